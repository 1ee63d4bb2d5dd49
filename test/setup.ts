import { applyD1Migrations, env } from "cloudflare:test";
import { shardsOf } from "../src/db/shards";
import type { Bindings } from "../src/env";

// Storage is isolated per test file; the migrations are applied once per file, to every
// database (DB, and DB_SHARD_1 when the suite runs sharded, else the spare one: vitest.config.ts).
for (const { d1 } of shardsOf(env as Bindings)) await applyD1Migrations(d1, env.TEST_MIGRATIONS);
if (env.TEST_SPARE_DB) await applyD1Migrations(env.TEST_SPARE_DB, env.TEST_MIGRATIONS);
