import type { D1Migration } from "cloudflare:test";

/** Bindings that only the test pool has (vitest.config.ts), beside the generated Env. */
declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      TEST_SIGNING_KEYS: string;
      TEST_STRICT_LIMITER: RateLimit;
      TEST_INGEST_RATE_PERIOD: string;
      TEST_EVENTS_QUEUE: Queue;
      /** With LOGINPULSE_TEST_SHARDS=2 (vitest.config.ts): the second database organizations are sharded across. */
      [shard: `DB_SHARD_${number}`]: D1Database | undefined;
    }
  }
}
