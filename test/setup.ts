import { applyD1Migrations, env } from "cloudflare:test";
import { afterAll, vi } from "vitest";
import { shardsOf } from "../src/db/shards";
import type { Bindings } from "../src/env";
import { resetDatabases } from "./helpers";

// Runs before every test file. The files share one workerd per worker and project (vitest.config.ts:
// `isolate: false`), so each starts from what a fresh runtime would give it: every database migrated
// (DB, and DB_SHARD_1 when the suite runs sharded, else the spare one; applying migrations twice is a
// no-op) with empty tables, and no spy, stub or fake clock left behind by the file before. The
// worker's isolate-level caches (directory rows, remote key sets) do outlive a file, as they outlive
// a request in production: files that place organizations by hand or fetch key sets use slugs and
// JWKS URLs of their own.
for (const { d1 } of shardsOf(env as Bindings)) await applyD1Migrations(d1, env.TEST_MIGRATIONS);
if (env.TEST_SPARE_DB) await applyD1Migrations(env.TEST_SPARE_DB, env.TEST_MIGRATIONS);
await resetDatabases(env.TEST_SPARE_DB ? [env.TEST_SPARE_DB] : []);
afterAll(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
