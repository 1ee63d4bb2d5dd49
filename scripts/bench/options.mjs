// Options from flags (--events 10000000) or environment (BENCH_EVENTS=10000000); flags win.
import { parseArgs } from "node:util";

export const USAGE = `Usage: npm run bench -- [options]            (or BENCH_<OPTION>=value npm run bench)

Scale (defaults finish in ~5 minutes on 2 cores; the DESIGN target is --events 10000000 --orgs 1000):
  --events <n>               raw login events to generate            BENCH_EVENTS      (1000000)
  --orgs <n>                 organizations (zipf-sized)              BENCH_ORGS        (200)
  --days <n>                 days of history, ending now             BENCH_DAYS        (365)
  --zipf <s>                 org size exponent (1/rank^s)            BENCH_ZIPF        (0.7)
  --events-per-identity <n>  average events per identity             BENCH_EVENTS_PER_IDENTITY (20)
  --seed <n>                 PRNG seed                                BENCH_SEED        (42)
  --range-days <n>           dashboard range for the reads           BENCH_RANGE_DAYS  (365)
  --tail-minutes <n>         unsealed tail added before the reads    BENCH_TAIL_MINUTES (15)
  --tail-per-day <n>         the tail's rate in events a day (a steady
                             state bigger than the history's)         BENCH_TAIL_PER_DAY (the history's average)
Measurement:
  --requests <n>             sequential requests per endpoint        BENCH_REQUESTS    (200)
  --endpoint-budget <s>      max seconds per endpoint (≥ 20 samples) BENCH_ENDPOINT_BUDGET (8)
  --ingest-seconds <s>       ingest / health throughput duration     BENCH_INGEST_SECONDS (10)
  --ingest-batch <n,...>     events per POST /api/events, each size  BENCH_INGEST_BATCH (1,100,1000)
  --matrix-requests <n>      requests per read for the median/smallest
                             org and the 7/30-day ranges              BENCH_MATRIX_REQUESTS (30)
  --query-budget <s>         max seconds per query measurement       BENCH_QUERY_BUDGET (3)
  --ref-reps <n>             reference runs per query (max)          BENCH_REF_REPS    (3)
  --port <n>                 wrangler dev port (default: a free one) BENCH_PORT
  --dir <path>               working directory (data, cache, results) BENCH_DIR      (.bench)
Phases:
  --skip-runtime             no wrangler dev phase                   BENCH_SKIP_RUNTIME=1
  --reuse                    reuse the rolled-up data of an earlier run with identical options
                             and sources (.bench/cache); rollup numbers are then the cached ones
  -h, --help`;

const SPEC = {
  events: { type: "string", kind: "int", def: 1_000_000 },
  orgs: { type: "string", kind: "int", def: 200 },
  days: { type: "string", kind: "int", def: 365 },
  zipf: { type: "string", kind: "float", def: 0.7 },
  "events-per-identity": { type: "string", kind: "float", def: 20 },
  seed: { type: "string", kind: "int", def: 42 },
  "range-days": { type: "string", kind: "int", def: 365 },
  "tail-minutes": { type: "string", kind: "float", def: 15 },
  "tail-per-day": { type: "string", kind: "int", def: 0 },
  requests: { type: "string", kind: "int", def: 200 },
  "endpoint-budget": { type: "string", kind: "float", def: 8 },
  "ingest-seconds": { type: "string", kind: "float", def: 10 },
  "ingest-batch": { type: "string", kind: "list", def: [1, 100, 1000] },
  "matrix-requests": { type: "string", kind: "int", def: 30 },
  "query-budget": { type: "string", kind: "float", def: 3 },
  "ref-reps": { type: "string", kind: "int", def: 3 },
  port: { type: "string", kind: "int", def: 0 },
  dir: { type: "string", kind: "string", def: ".bench" },
  "skip-runtime": { type: "boolean", kind: "bool", def: false },
  reuse: { type: "boolean", kind: "bool", def: false },
};

const camel = (k) => k.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
const envName = (k) => `BENCH_${k.toUpperCase().replace(/-/g, "_")}`;

export function parseOptions(argv = process.argv.slice(2), env = process.env) {
  const { values } = parseArgs({
    args: argv,
    options: { ...Object.fromEntries(Object.entries(SPEC).map(([k, s]) => [k, { type: s.type }])), help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) return { help: true };
  const out = {};
  for (const [key, spec] of Object.entries(SPEC)) {
    const raw = values[key] ?? env[envName(key)];
    let value = spec.def;
    if (raw !== undefined && raw !== "") {
      if (spec.kind === "bool") value = raw === true || /^(1|true|yes)$/i.test(String(raw));
      else if (spec.kind === "string") value = String(raw);
      else if (spec.kind === "list") value = String(raw).split(",").map((v) => Number(v.trim()));
      else {
        const text = String(raw).replace(/_/g, "");
        value = Number(/^\d+(\.\d+)?e\d+$/i.test(text) ? Number(text) : text);
        if (!Number.isFinite(value) || value < 0 || (spec.kind === "int" && !Number.isInteger(value))) {
          throw new Error(`--${key} / ${envName(key)}: expected a ${spec.kind === "int" ? "non-negative integer" : "number"}, got "${raw}"`);
        }
      }
    }
    out[camel(key)] = value;
  }
  if (out.events < 1000) throw new Error("--events must be at least 1000");
  if (out.orgs < 1 || out.days < 1) throw new Error("--orgs and --days must be at least 1");
  if (out.rangeDays > 3660) throw new Error("--range-days may be at most 3660 (the API's limit)");
  if (!out.ingestBatch.every((b) => Number.isInteger(b) && b >= 1 && b <= 1000)) throw new Error("--ingest-batch: each size must be an integer 1..1000 (the API's limit)");
  if (out.matrixRequests < 1) throw new Error("--matrix-requests must be at least 1");
  return out;
}
