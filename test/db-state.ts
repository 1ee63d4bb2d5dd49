import { env } from "cloudflare:test";
import { shardsOf } from "../src/db/shards";
import type { Bindings } from "../src/env";

export interface DbState {
  /** Row count per table, summed over the databases. */
  counts: Record<string, number>;
  /** SHA-256 over every row of every table (rows sorted, so physical order does not matter). */
  hash: string;
}

/** Every database the suite runs with: DB, and DB_SHARD_1 when sharded. */
export const allD1 = (): D1Database[] => shardsOf(env as Bindings).map((s) => s.d1);

/** Every application table: whatever the migrations created, so new tables are covered too. */
export async function applicationTables(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY name")
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

/** Counts and a hash of every database (DB, and DB_SHARD_1 when sharded), to prove a rejected request changed nothing. */
export async function dbState(databases: D1Database[] = allD1()): Promise<DbState> {
  const counts: Record<string, number> = {};
  const parts: string[] = [];
  for (const [n, db] of databases.entries()) {
    const names = await applicationTables(db);
    const dumps = await db.batch(names.map((t) => db.prepare(`SELECT * FROM "${t}"`)));
    names.forEach((t, i) => {
      const rows = (dumps[i].results as Record<string, unknown>[]).map((r) => JSON.stringify(r)).sort();
      counts[t] = (counts[t] ?? 0) + rows.length;
      parts.push(`${n}:${t}\n${rows.join("\n")}`);
    });
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\n\n")));
  return { counts, hash: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("") };
}

/**
 * Every row of every application table of each database, and its AUTOINCREMENT counters, with a
 * function that puts exactly that back (whatever was written since is gone): a test that needs
 * the same starting state many times builds it once. Rows travel as one JSON text per table:
 * SQLite's json_array keeps integers, reals, text and NULL apart, and refuses a BLOB outright.
 */
export async function snapshotDatabases(databases: D1Database[] = allD1()): Promise<() => Promise<void>> {
  const quote = (name: string) => `"${name}"`;
  const saved: { db: D1Database; tables: { table: string; columns: string[]; rows: string }[] }[] = [];
  for (const db of databases) {
    const tables = [...(await applicationTables(db)), "sqlite_sequence"];
    const info = await db.batch<{ name: string }>(tables.map((t) => db.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid").bind(t)));
    const columns = info.map((r) => r.results.map((c) => c.name));
    const dumps = await db.batch<{ rows: string }>(
      tables.map((t, i) => db.prepare(`SELECT json_group_array(json_array(${columns[i].map(quote).join(", ")})) AS rows FROM ${quote(t)}`)),
    );
    saved.push({ db, tables: tables.map((t, i) => ({ table: quote(t), columns: columns[i], rows: dumps[i].results[0].rows })) });
  }
  return async () => {
    for (const { db, tables } of saved) {
      // foreign keys are checked at commit, when every table holds its saved rows again
      await db.batch([
        db.prepare("PRAGMA defer_foreign_keys = ON"),
        ...tables.map(({ table }) => db.prepare(`DELETE FROM ${table}`)),
        ...tables
          .filter(({ rows }) => rows !== "[]")
          .map(({ table, columns, rows }) =>
            db.prepare(`INSERT INTO ${table} (${columns.map(quote).join(", ")}) SELECT ${columns.map((_, k) => `value ->> ${k}`).join(", ")} FROM json_each(?1)`).bind(rows),
          ),
      ]);
    }
  };
}
