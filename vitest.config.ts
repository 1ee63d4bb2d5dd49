import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { exportJWK, generateKeyPair } from "jose";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/**
 * Tests run inside workerd against local D1 with the real migrations. Keys are
 * generated per run: one per allowed algorithm (published in JWT_PUBLIC_JWKS),
 * plus a stranger key that is NOT published (bad-signature cases).
 */
async function testKeys() {
  const make = async (alg: "RS256" | "ES256" | "EdDSA", kid: string) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
    return {
      alg,
      kid,
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" },
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg },
    };
  };
  const keys = [await make("RS256", "test-rs256"), await make("ES256", "test-es256"), await make("EdDSA", "test-eddsa")];
  const stranger = await make("RS256", "test-rs256");
  return { keys, stranger };
}

/** `period` of wrangler.toml's INGEST_RATE_LIMITER, which 429s must announce as Retry-After. */
function ingestRatePeriod(): string {
  const toml = readFileSync(new URL("./wrangler.toml", import.meta.url), "utf8");
  const m = toml.match(/name\s*=\s*"INGEST_RATE_LIMITER"[^[]*?period\s*=\s*(\d+)/);
  if (!m) throw new Error("wrangler.toml: no [[ratelimits]] INGEST_RATE_LIMITER with a period");
  return m[1];
}

/**
 * LOGINPULSE_TEST_SHARDS=2 runs the whole suite with organizations sharded across two
 * databases (`DB` and `DB_SHARD_1`, src/db/shards.ts), as `npm test` does after the
 * single-database run: every answer must be the same.
 */
const SHARDS = Number(process.env.LOGINPULSE_TEST_SHARDS ?? "1");
if (!(SHARDS === 1 || SHARDS === 2)) throw new Error("LOGINPULSE_TEST_SHARDS must be 1 or 2");

export default defineConfig(async () => {
  const { keys, stranger } = await testKeys();
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            JWT_PUBLIC_JWKS: JSON.stringify({ keys: keys.map((k) => k.publicJwk) }),
            JWT_ISSUER: "https://auth.test",
            JWT_AUDIENCE: "loginpulse",
            JWKS_URL: "",
            // The suite runs as a deployed worker does. wrangler also reads .dev.vars, where
            // `npm run dev` puts its development-only vars: blank them so they cannot leak in.
            ENVIRONMENT: "",
            DEV_DASHBOARD_TOKEN: "",
            TEST_SIGNING_KEYS: JSON.stringify({ keys, stranger }),
            TEST_INGEST_RATE_PERIOD: ingestRatePeriod(),
            TEST_MIGRATIONS: await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url))),
          },
          // A second limiter with a tiny budget, swapped in for INGEST_RATE_LIMITER by the
          // rate-limit tests (test/abuse.test.ts); the suite itself runs under wrangler.toml's.
          ratelimits: { TEST_STRICT_LIMITER: { namespace_id: "9001", simple: { limit: 3, period: 60 } } },
          // A real queue producer for test/queue.test.ts, swapped in as EVENTS_QUEUE there only: the
          // suite itself runs without a queue (direct ingest, the default). No consumer is attached;
          // the tests deliver batches to the worker's queue handler themselves.
          queueProducers: { TEST_EVENTS_QUEUE: { queueName: "loginpulse-events-test" } },
          // Sharded: DB_SHARD_1 is the second database. Otherwise TEST_SPARE_DB is one that only
          // test/shards.test.ts binds as DB_SHARD_1, so sharding is tested in both runs.
          d1Databases: { DB: "loginpulse", ...(SHARDS === 2 ? { DB_SHARD_1: "loginpulse-shard-1" } : { TEST_SPARE_DB: "loginpulse-spare" }) },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: ["./test/setup.ts"],
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  };
});
