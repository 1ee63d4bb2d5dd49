import type { D1Migration } from "cloudflare:test";

/** Bindings that only the test pool has (vitest.config.ts), beside the generated Env. */
declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      TEST_SIGNING_KEYS: string;
      TEST_STRICT_LIMITER: RateLimit;
      TEST_INGEST_RATE_PERIOD: string;
      /** LOGINPULSE_PROPERTY_STREAMS, or "" for the property test's default. */
      TEST_PROPERTY_STREAMS: string;
      TEST_EVENTS_QUEUE: Queue;
      /** In the single-database project (vitest.config.ts): a second database that test/shards.test.ts binds as DB_SHARD_1. */
      TEST_SPARE_DB?: D1Database;
      /** In the sharded project (vitest.config.ts): the second database organizations are sharded across. */
      [shard: `DB_SHARD_${number}`]: D1Database | undefined;
    }
  }
}
