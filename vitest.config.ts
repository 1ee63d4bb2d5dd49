import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { exportJWK, generateKeyPair } from "jose";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

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
 * The suite runs as two vitest projects in one invocation, their files scheduled together
 * across the machine's cores:
 *
 *   single   every test file, with one database (`DB`; TEST_SPARE_DB is bound for test/shards.test.ts)
 *   sharded  every file whose answers could depend on where organizations are stored, again with
 *            organizations sharded across two databases (`DB` and `DB_SHARD_1`, src/db/shards.ts):
 *            every answer must be the same
 *
 * The files left out of `sharded` (PLACEMENT_FREE) test what no database placement can change:
 * JWT verification and remote JWKS handling, pure response shaping, the web pages and the typed
 * client. LOGINPULSE_TEST_SHARDS=1 or =2 runs only that project (e.g. while iterating on one file).
 */
const PLACEMENT_FREE = ["test/jwt.test.ts", "test/jwks.test.ts", "test/shape.test.ts", "test/web.test.ts", "test/client.test.ts"];
const ONLY = process.env.LOGINPULSE_TEST_SHARDS;
if (!(ONLY === undefined || ONLY === "" || ONLY === "1" || ONLY === "2")) throw new Error("LOGINPULSE_TEST_SHARDS must be 1 or 2 (or unset: both)");

/**
 * Longest files first (across both projects), so the last file to start is a short one and both
 * cores stay busy to the end: vitest's own order runs one project's files before the other's,
 * and goes by the durations it cached from the last run, which a run of one file (or a few
 * property streams while iterating) makes misleading. Seconds alone on an idle core, roughly;
 * every other file takes a second or two. Files of equal cost go project by project: a worker
 * keeps its workerd while the next file is of the same project (`isolate: false`), and starts a
 * new one when it is not.
 */
const ESTIMATE: Record<string, number> = {
  "single/property.test.ts": 55,
  "sharded/faults.test.ts": 45,
  "sharded/property.test.ts": 40,
  "single/fuzz.test.ts": 40,
  "single/faults.test.ts": 25,
  "sharded/fuzz.test.ts": 25,
};
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cost = (spec: TestSpecification) => ESTIMATE[`${spec.project.name}/${spec.moduleId.split("/").pop()}`] ?? 2;
    const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return [...files].sort((a, b) => cost(b) - cost(a) || order(a.project.name, b.project.name) || order(a.moduleId, b.moduleId));
  }
}

export default defineConfig(async () => {
  const { keys, stranger } = await testKeys();
  const migrations = await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url)));
  const project = (shards: 1 | 2) => ({
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
            TEST_PROPERTY_STREAMS: process.env.LOGINPULSE_PROPERTY_STREAMS ?? "",
            TEST_MIGRATIONS: migrations,
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
          d1Databases: { DB: "loginpulse", ...(shards === 2 ? { DB_SHARD_1: "loginpulse-shard-1" } : { TEST_SPARE_DB: "loginpulse-spare" }) },
        },
      }),
    ],
    test: {
      name: shards === 2 ? "sharded" : "single",
      include: ["test/**/*.test.ts"],
      exclude: shards === 2 ? PLACEMENT_FREE : [],
      setupFiles: ["./test/setup.ts"],
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  });
  return {
    test: {
      projects: ONLY === "1" ? [project(1)] : ONLY === "2" ? [project(2)] : [project(1), project(2)],
      // vitest's default is one worker fewer than the cores (one, on 2 cores); the tests run in
      // workerd, one process per worker, while vitest's own process mostly waits.
      maxWorkers: availableParallelism(),
      // A worker runs file after file in one workerd instead of starting one per file (about 2.5 s
      // each, twice per file with both projects). test/setup.ts gives each file what a fresh one
      // would: migrated, empty databases and no mocks left over.
      isolate: false,
      sequence: { sequencer: LongestFirst },
    },
  };
});
