import type { D1Migration } from "cloudflare:test";
import type { Bindings } from "../src/env";

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {
      TEST_MIGRATIONS: D1Migration[];
      TEST_SIGNING_KEYS: string;
      TEST_STRICT_LIMITER: RateLimit;
      TEST_INGEST_RATE_PERIOD: string;
    }
    interface GlobalProps {
      mainModule: typeof import("../src/index");
    }
  }
}
