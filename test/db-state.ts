import { env } from "cloudflare:test";
import { shardsOf } from "../src/db/shards";
import type { Bindings } from "../src/env";

export interface DbState {
  /** Row count per table, summed over the databases. */
  counts: Record<string, number>;
  /** SHA-256 over every row of every table (rows sorted, so physical order does not matter). */
  hash: string;
}

/** Every application table: whatever the migrations created, so new tables are covered too. */
export async function applicationTables(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY name")
    .all<{ name: string }>();
  return results.map((r) => r.name);
}

/** Counts and a hash of every database (DB, and DB_SHARD_1 when sharded), to prove a rejected request changed nothing. */
export async function dbState(databases: D1Database[] = shardsOf(env as Bindings).map((s) => s.d1)): Promise<DbState> {
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
