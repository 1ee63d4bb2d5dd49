#!/usr/bin/env node
// `npm run bench`: DESIGN.md's performance targets, measured as ratios in one run (ratios, not
// absolute numbers, are what stays meaningful on a noisy 2-core machine).
//
//   data       deterministic synthetic events (zipf-sized orgs, ~10% machine identities, ~3%
//              failures, N days ending now) written straight into the local D1 SQLite file
//              that `wrangler d1 migrations apply --local --persist-to .bench/state` created
//   rollup     the real runRollup (src/rollup) through a D1 shim over node:sqlite: full
//              backfill, then an incremental run over ~15 minutes of new events
//   queries    every read endpoint's real query function (src/analytics) vs the reference
//              implementation's raw-event query shapes, same engine and data, for the largest
//              org and a 365-day range; answers are compared, not just timed
//   runtime    `wrangler dev` on the same file: sequential p50/p95 of each endpoint vs GET
//              /health, and batched POST /api/events events/s vs /health requests/s
//
// Output: a table on stdout, .bench/results.json, .bench/plans.txt (EXPLAIN QUERY PLAN of the
// slowest statement of each read). Options: `npm run bench -- --help`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// node:sqlite and wrangler 4 need Node >= 22.12. `npm run bench` puts the project's pinned
// Node 22 first on PATH; started with an older node, re-run under the project's.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  const local = join(dirname(fileURLToPath(import.meta.url)), "..", "node_modules", "node", "bin", "node");
  if (!existsSync(local)) {
    console.error(`bench: Node ${process.versions.node} is too old (need >= 22.12); run it through \`npm run bench\` after \`npm install\``);
    process.exit(1);
  }
  const r = spawnSync(local, ["--no-warnings=ExperimentalWarning", fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

await import("./bench/main.mjs");
