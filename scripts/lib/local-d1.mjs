// The local D1 databases under a `--persist-to` directory (wrangler dev, `wrangler d1 … --local`),
// read straight from their SQLite files with node:sqlite. A `wrangler d1 execute --local` starts
// another wrangler and workerd for every query (about 1.5 s of CPU on these machines), which a
// harness polling a queue's progress would pay many times over.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";

/** Every D1 database file under persistTo, in a stable order (one per database: DB, DB_SHARD_n …). */
export function localD1Files(persistTo) {
  const dir = join(persistTo, "v3", "d1", "miniflare-D1DatabaseObject");
  return readdirSync(dir)
    .filter((f) => /^[0-9a-f]{64}\.sqlite$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Runs read-only statements against every local D1 database, which wrangler dev may be serving
 * and writing meanwhile (SQLite's locking keeps each read consistent; a read-only connection never
 * checkpoints or removes the write-ahead log the server is using). Returns, per statement, every
 * database's rows concatenated. `databases`, when given, is how many there must be.
 */
export function queryLocalD1(persistTo, statements, { databases } = {}) {
  const files = localD1Files(persistTo);
  if (databases !== undefined && files.length !== databases) {
    throw new Error(`expected ${databases} D1 database file(s) under ${persistTo}, found ${files.length}`);
  }
  const perDatabase = files.map((file) => {
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      return statements.map((sql) => db.prepare(sql).all());
    } finally {
      db.close();
    }
  });
  return statements.map((_, i) => perDatabase.flatMap((rows) => rows[i]));
}
