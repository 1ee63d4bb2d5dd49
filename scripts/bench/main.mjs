// `npm run bench`: the performance targets of DESIGN.md, measured as ratios in one run.
// See scripts/bench.mjs for the overview and `npm run bench -- --help` for the options.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { buildQueries } from "./build.mjs";
import { createD1Shim } from "./d1-shim.mjs";
import { ENDPOINTS, readContext } from "./endpoints.mjs";
import { generate, ingestEvents as syntheticEvents, planOrgs } from "./generate.mjs";
import { benchKeys } from "../lib/keys.mjs";
import { localD1Files } from "../lib/local-d1.mjs";
import { parseOptions, USAGE } from "./options.mjs";
import { snapshotSources, sourcesChanged } from "../lib/snapshot.mjs";
import { measureQueries } from "./queries-phase.mjs";
import { freePort, measureLatency, measureRate, startWrangler, timedFetch } from "../lib/runtime.mjs";
import { fmtInt, fmtMs, fmtRatio, table } from "./stats.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const SEED_TARGET = 100;
const RUNTIME_TARGET = 2;
const CRON_BUDGET_MS = 20_000; // runRollup's default per-invocation budget

let opts;
try {
  opts = parseOptions();
} catch (err) {
  console.error(`bench: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

const BENCH = resolve(ROOT, opts.dir);
const STATE = join(BENCH, "state");
const CACHE = join(BENCH, "cache");
const SCRATCH = join(BENCH, "scratch.sqlite");
const rel = (p) => relative(ROOT, p) || ".";
let snapshot;

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const log = (msg) => console.log(`[bench ${elapsed()}] ${msg}`);
mkdirSync(BENCH, { recursive: true });

const results = {
  startedAt: new Date().toISOString(),
  options: opts,
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, platform: `${process.platform}-${process.arch}` },
};

try {
  await main();
} catch (err) {
  console.error(`\n[bench] FAILED: ${err.stack ?? err.message}`);
  results.error = String(err.stack ?? err.message);
  writeResults();
  process.exit(1);
}

async function main() {
  // ---- 0. a frozen copy of the sources; the real query builders, bundled from it ------------
  snapshot = snapshotSources(ROOT, join(BENCH, "snapshot"));
  results.source = { gitHead: snapshot.gitHead, uncommittedSrcChanges: snapshot.gitDirtySrc, srcHash: snapshot.srcHash };
  const q = await buildQueries(snapshot.queriesEntry, join(BENCH, "queries.mjs"));
  log(`sources frozen in ${rel(snapshot.dir)} (git ${snapshot.gitHead}${snapshot.gitDirtySrc ? " + uncommitted src changes" : ""}, src ${snapshot.srcHash}); query builders bundled → ${rel(join(BENCH, "queries.mjs"))}`);

  // ---- 1. data + full rollup (or the cached result of an identical earlier run) -----------
  const cacheKey = computeCacheKey();
  let dbFile;
  let meta;
  const cached = join(CACHE, `${cacheKey}.sqlite`);
  if (opts.reuse && existsSync(cached) && existsSync(`${cached}.json`)) {
    log(`--reuse: restoring ${rel(cached)} (generated ${JSON.parse(readFileSync(`${cached}.json`, "utf8")).generatedAt})`);
    dbFile = migrateFreshState();
    copyFileSync(cached, dbFile);
    rmSync(`${dbFile}-wal`, { force: true });
    rmSync(`${dbFile}-shm`, { force: true });
    meta = JSON.parse(readFileSync(`${cached}.json`, "utf8"));
    meta.reused = true;
  } else {
    dbFile = migrateFreshState();
    meta = { generatedAt: new Date().toISOString(), anchor: Date.now() };
    log(`generating ${fmtInt(opts.events)} events / ${opts.orgs} orgs / ${opts.days} days into ${rel(dbFile)} …`);
    const gen = generate(dbFile, { ...opts, now: meta.anchor }, log);
    delete gen.model;
    meta.generation = gen;
    log(`generated in ${gen.seconds.toFixed(1)} s: ${fmtInt(gen.identities)} identities, ${gen.services} services; largest org ${gen.largest.slug} has ${fmtInt(gen.largest.events)} events (${(gen.largest.share * 100).toFixed(1)}%)`);

    // ---- 1b. reads right after the bulk load, before any cron: every event is unsealed tail --
    const bulkCtx = buildContext(q, planOrgs(opts).orgs[0].slug, Date.now());
    log("reads right after the bulk load, before any cron (everything is the live tail; ours only, 1 timed run each):");
    meta.bulkReads = await withDb(dbFile, q, ({ qdb, shim, sqlite, capture }) =>
      measureQueries({ q, qdb, shim, sqlite, ctx: bulkCtx, endpoints: ENDPOINTS, budgetMs: 0, oursMaxReps: 1, refReps: 0, reference: false, keepAnswers: true, capture, log }),
    );
    log("full rollup (backfill) through runRollup, default options, repeated like the */15 cron until complete …");
    meta.backfill = await withDb(dbFile, q, async ({ qdb }) => rollupUntilComplete(q, qdb, (r, i, s) => log(`  cron run ${i}: folded ${fmtInt(r.foldedEvents)}, recomputed ${fmtInt(r.recomputedDays)} org-days${r.complete ? "" : " (continuing)"} — ${s.toFixed(1)} s`)));
    meta.backfill.eventsPerSecond = opts.events / meta.backfill.seconds;
    log(`backfill: ${meta.backfill.seconds.toFixed(1)} s (${fmtInt(meta.backfill.eventsPerSecond)} events/s, ${meta.backfill.cronRuns} cron runs)`);
    log("the same reads once rolled up (same events): answers must equal those read before any cron");
    const bulkExpected = Object.fromEntries(meta.bulkReads.map((r) => [r.name, r.oursAnswer]));
    const after = await withDb(dbFile, q, ({ qdb, shim, sqlite, capture }) =>
      measureQueries({ q, qdb, shim, sqlite, ctx: bulkCtx, endpoints: ENDPOINTS, budgetMs: 0, oursMaxReps: 1, refReps: 0, reference: false, expected: bulkExpected, capture, log }),
    );
    meta.bulkReads = meta.bulkReads.map((r, i) => ({ name: r.name, ms: r.oursMs, slowest: r.slowest, equalAfterRollup: after[i].equal, diff: after[i].diff }));
    saveCache(dbFile, cached, meta);
  }
  results.data = meta.generation;
  results.bulkReads = meta.bulkReads; // absent when --reuse restored a cached database
  results.rollup = { backfill: { ...meta.backfill, cached: !!meta.reused } };

  // ---- 2. a live tail: ~tailMinutes of new events through the real ingest SQL --------------
  const model = planOrgs(opts);
  const largest = model.orgs[0].slug;
  const tailPerDay = opts.tailPerDay || opts.events / opts.days;
  const tailCount = Math.max(1, Math.round((tailPerDay * opts.tailMinutes) / 1440));
  const tailNow = Date.now();
  const ctx = buildContext(q, largest, tailNow);
  results.context = { org: largest, range: ctx.dates, tailEvents: tailCount };

  await withDb(dbFile, q, async ({ qdb, shim, sqlite, capture }) => {
    // Through the real normalizeEvents (defaults, 5-minute future rule), as the route does.
    const posted = [...syntheticEvents(model, { events: tailCount, from: tailNow - opts.tailMinutes * 60_000, to: tailNow, seed: opts.seed + 1, eventIdPrefix: `tail-${tailNow.toString(36)}-` })].map(
      (e) => ({ ...e, created_at: new Date(e.created_at).toISOString() }),
    );
    const events = q.normalizeEvents(posted, { now: tailNow }, true);
    const t = performance.now();
    let accepted = 0;
    for (let i = 0; i < events.length; i += 1000) accepted += (await q.storeEvents(qdb, events.slice(i, i + 1000), tailNow)).accepted;
    const ms = performance.now() - t;
    results.tailIngest = { events: events.length, accepted, ms };
    log(`tail: ingested ${accepted} events (${opts.tailMinutes} min at ${opts.tailPerDay ? `${fmtInt(opts.tailPerDay)} events a day` : "the average rate"}) through storeEvents in ${ms.toFixed(1)} ms; now reading with an unsealed tail`);

    // ---- 3. query cost: ours vs reference (tail state), answers compared -------------------
    log(`query cost for ${largest}, ${ctx.dates.start}..${ctx.dates.end} (ours = src/ query functions; reference = raw-event shapes):`);
    results.queries = await measureQueries({ q, qdb, shim, sqlite, ctx, endpoints: ENDPOINTS, budgetMs: opts.queryBudget * 1000, refReps: opts.refReps, reference: true, capture, log });
  });

  // ---- 4. incremental rollup of the tail, then sealed reads (on a scratch copy) -------------
  copyFileSync(dbFile, SCRATCH);
  try {
    await withDb(SCRATCH, q, async ({ qdb, shim, sqlite, capture }) => {
      const inc = await rollupUntilComplete(q, qdb);
      results.rollup.incremental = { events: tailCount, ms: inc.seconds * 1000, ...inc };
      log(`incremental rollup of the ${tailCount}-event tail: ${(inc.seconds * 1000).toFixed(0)} ms (${inc.recomputedDays} org-days recomputed, ${inc.batches} batches)`);
      log("sealed reads (after the incremental rollup; answers must still equal the reference):");
      const expected = Object.fromEntries(results.queries.map((r) => [r.name, r.refAnswer]));
      const sealed = await measureQueries({ q, qdb, shim, sqlite, ctx, endpoints: ENDPOINTS, budgetMs: opts.queryBudget * 1000, refReps: 0, reference: false, expected, capture, log });
      for (const s of sealed) {
        const row = results.queries.find((r) => r.name === s.name);
        Object.assign(row, { sealedMs: s.oursMs, sealedEqual: s.equal, sealedDiff: s.diff, sealedSlowest: s.slowest });
      }
    });
  } finally {
    rmSync(SCRATCH, { force: true });
    rmSync(`${SCRATCH}-wal`, { force: true });
    rmSync(`${SCRATCH}-shm`, { force: true });
  }
  for (const r of results.queries) delete r.refAnswer;

  // ---- 5. through the local runtime -------------------------------------------------------
  if (opts.skipRuntime) {
    log("--skip-runtime: no wrangler dev phase");
  } else {
    results.runtime = await runtimePhase(q, model, ctx);
  }

  results.totalSeconds = (performance.now() - started) / 1000;
  results.source.changedDuringRun = sourcesChanged(ROOT, snapshot);
  results.targets = evaluateTargets();
  writePlans();
  writeResults();
  printReport();
}

// ---- helpers ---------------------------------------------------------------------------------

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1", ...env } });
  if (r.status !== 0) throw new Error(`${[cmd, ...args].join(" ")} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Deletes .bench/state, applies the real migrations with wrangler, returns the D1 SQLite file. */
function migrateFreshState() {
  rmSync(STATE, { recursive: true, force: true });
  run(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--config", snapshot.config, "--persist-to", STATE]);
  const files = localD1Files(STATE);
  if (files.length !== 1) throw new Error(`expected one D1 database file under ${STATE}, found: ${files.join(", ") || "none"}`);
  const file = files[0];
  // fold the migration's WAL into the file, so a plain copy of the file is the whole database
  const db = new DatabaseSync(file);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return file;
}

function computeCacheKey() {
  const data = { ...opts };
  for (const k of ["requests", "endpointBudget", "ingestSeconds", "ingestBatch", "matrixRequests", "queryBudget", "refReps", "port", "dir", "skipRuntime", "reuse", "rangeDays", "tailMinutes", "tailPerDay"]) delete data[k];
  return createHash("sha256")
    .update(JSON.stringify(data))
    .update(readFileSync(join(ROOT, "scripts", "bench", "generate.mjs")))
    .update(snapshot.dataHash)
    .digest("hex")
    .slice(0, 16);
}

function saveCache(dbFile, cached, meta) {
  try {
    rmSync(CACHE, { recursive: true, force: true });
    mkdirSync(CACHE, { recursive: true });
    copyFileSync(dbFile, cached);
    writeFileSync(`${cached}.json`, JSON.stringify(meta, null, 2));
  } catch (err) {
    log(`warning: could not cache the rolled-up database (${err.message})`);
  }
}

/** Opens the file like D1 would be used (foreign keys on), with the shim and drizzle on top. */
async function withDb(file, q, fn) {
  const sqlite = new DatabaseSync(file);
  const capture = [];
  const shim = createD1Shim(sqlite, { onStatement: (sql, params, ms) => capture.push({ sql, params, ms }) });
  const qdb = q.createDb(shim);
  try {
    return await fn({ sqlite, shim, qdb, capture });
  } finally {
    capture.length = 0;
    sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite.close();
  }
}

async function rollupUntilComplete(q, qdb, onRun) {
  const t = performance.now();
  const total = { cronRuns: 0, batches: 0, foldedEvents: 0, recomputedDays: 0 };
  for (;;) {
    const r = await q.runRollup(qdb);
    total.cronRuns++;
    total.batches += r.batches;
    total.foldedEvents += r.foldedEvents;
    total.recomputedDays += r.recomputedDays;
    onRun?.(r, total.cronRuns, (performance.now() - t) / 1000);
    if (r.complete) break;
    if (total.cronRuns > 10_000) throw new Error("rollup did not complete after 10,000 runs");
  }
  return { ...total, seconds: (performance.now() - t) / 1000, cronBudgetMs: CRON_BUDGET_MS };
}

/** The reads' context (endpoints.mjs's `readContext`) over the bench's range, unless `days` is given. */
function buildContext(q, slug, now, days = opts.rangeDays) {
  return readContext(q, slug, now, days);
}

async function runtimePhase(q, model, ctx) {
  const varsFile = join(BENCH, "bench.vars");
  const keys = await benchKeys(varsFile);
  const port = opts.port || (await freePort());
  log(`starting wrangler dev (--persist-to ${rel(STATE)}, --env-file ${rel(varsFile)}, keys: ${keys.source}) …`);
  const d1Files = () => localD1Files(STATE).join(",");
  const before = d1Files();
  const server = await startWrangler({ node: process.execPath, wrangler: WRANGLER, cwd: snapshot.dir, config: snapshot.config, persistTo: STATE, varsFile, port, log });
  if (d1Files() !== before) {
    await server.stop();
    throw new Error(`wrangler dev opened a different D1 database file than the bench wrote (${before} → ${d1Files()})`);
  }
  try {
    const orgToken = await keys.mint({ sub: "bench-org-admin", org: ctx.slug });
    const platformToken = await keys.mint({ sub: "bench-platform-owner", is_platform_owner: true });
    // A fresh ingest token every 500 requests: the bench measures ingest, not the per-token
    // rate limit (wrangler.toml: 1000 requests per 10 s), which small --ingest-batch values would reach.
    const ingestTokens = [];
    const ingestTokenFor = async (i) => (ingestTokens[Math.floor(i / 500)] ??= await keys.mint({ sub: `bench-ingest-${Math.floor(i / 500)}`, scope: "events:write" }));
    const endpoints = ENDPOINTS.map((ep) => ({ name: ep.name, path: ep.path(ctx), headers: { authorization: `Bearer ${ep.platform ? platformToken : orgToken}` } }));

    log(`read latency: sequential, interleaved round-robin, up to ${opts.requests} requests per endpoint (≤ ${opts.endpointBudget} s each) after 5 warm-up requests …`);
    const latency = await measureLatency({ base: server.base, endpoints, requests: opts.requests, budgetMs: opts.endpointBudget * 1000, log });
    const health = latency.find((l) => l.name === "health");
    for (const l of latency) l.ratio = l.p50 / health.p50;

    // The same reads for a median and the smallest organization, and for 7/30-day ranges:
    // fewer requests each (a ratio per cell, each against its own interleaved /health).
    const orgs = model.orgs;
    const matrixOrgs = [orgs[0], orgs[Math.floor(orgs.length / 2)], orgs[orgs.length - 1]].filter((o, i, all) => all.indexOf(o) === i);
    const matrix = [];
    for (const org of matrixOrgs) {
      const token = org.slug === ctx.slug ? orgToken : await keys.mint({ sub: `bench-org-admin-${org.rank}`, org: org.slug });
      for (const days of [...new Set([7, 30, opts.rangeDays])]) {
        if (org.slug === ctx.slug && days === opts.rangeDays) continue; // the main table above
        const c = buildContext(q, org.slug, ctx.now, days);
        const eps = ENDPOINTS.filter((ep) => !ep.platform || org === orgs[0]).map((ep) => ({ name: ep.name, path: ep.path(c), headers: { authorization: `Bearer ${ep.platform ? platformToken : token}` } }));
        log(`  matrix: ${org.slug} (rank ${org.rank + 1} of ${orgs.length}), ${days} days …`);
        const lat = await measureLatency({ base: server.base, endpoints: eps, requests: opts.matrixRequests, budgetMs: 2_000, minSamples: Math.min(20, opts.matrixRequests), warmup: 2 });
        const h = lat.find((l) => l.name === "health");
        matrix.push({ org: org.slug, rank: org.rank + 1, days, health: h.p50, reads: lat.filter((l) => l.name !== "health").map((l) => ({ name: l.name, n: l.n, p50: l.p50, ratio: l.p50 / h.p50 })) });
      }
    }

    log(`throughput: GET /health for ${opts.ingestSeconds} s, then POST /api/events at ${opts.ingestBatch.join(", ")} events per request for ${opts.ingestSeconds} s each …`);
    const healthRate = await measureRate({
      seconds: opts.ingestSeconds,
      request: async () => {
        const r = await timedFetch(`${server.base}/health`);
        if (r.status !== 200) throw new Error(`GET /health answered ${r.status}`);
        return { ms: r.ms, units: 1 };
      },
    });
    const stamp = Date.now().toString(36);
    const ingest = [];
    let requestNo = 0;
    for (const batch of opts.ingestBatch) {
      let duplicates = 0;
      const rate = await measureRate({
        seconds: opts.ingestSeconds,
        request: async () => {
          const i = requestNo++;
          const now = Date.now();
          const events = [...syntheticEvents(model, { events: batch, from: now - 5 * 60_000, to: now, seed: opts.seed + 1000 + i, eventIdPrefix: `http-${stamp}-${i}-` })].map((e) => ({
            ...e,
            created_at: new Date(e.created_at).toISOString(),
          }));
          const body = JSON.stringify({ events });
          const r = await timedFetch(`${server.base}/api/events`, { method: "POST", headers: { authorization: `Bearer ${await ingestTokenFor(i)}`, "content-type": "application/json" }, body });
          if (r.status !== 202) throw new Error(`POST /api/events answered ${r.status}: ${r.body.slice(0, 500)}`);
          const res = JSON.parse(r.body);
          duplicates += res.duplicates;
          return { ms: r.ms, units: res.accepted };
        },
      });
      ingest.push({ ...rate, batch, duplicates, requestCostRatio: healthRate.requestsPerSecond / rate.requestsPerSecond });
      log(`ingest (${batch}/request): ${fmtInt(rate.unitsPerSecond)} events/s (${rate.requests} requests, p50 ${fmtMs(rate.p50)} ms)`);
    }
    log(`/health: ${fmtInt(healthRate.requestsPerSecond)} requests/s`);
    return {
      port,
      keys: keys.source,
      latency,
      matrix,
      throughput: { health: healthRate, ingest },
    };
  } finally {
    await server.stop();
    log("wrangler dev stopped");
  }
}

/** DESIGN.md's performance targets, each with the measured value. */
function evaluateTargets() {
  const targets = [];
  const queries = results.queries;
  const trips = Math.max(...queries.map((r) => r.roundTrips));
  targets.push({ target: "a dashboard read is one D1 round trip", value: `max ${trips}`, pass: trips === 1 });
  const seed = queries.filter((r) => r.seed && !r.rawByDesign);
  const minRatio = Math.min(...seed.map((r) => r.refMs / r.oursMs));
  const minSealed = Math.min(...seed.map((r) => r.refMs / r.sealedMs));
  targets.push({ target: `≥ ${SEED_TARGET}x faster than the reference shapes (seed endpoints, largest org, ${opts.rangeDays} days)`, value: `min ${fmtRatio(minRatio)} with the tail, ${fmtRatio(minSealed)} sealed`, pass: minRatio >= SEED_TARGET });
  const wrong = queries.filter((r) => !r.equal || r.sealedEqual === false).map((r) => r.name);
  targets.push({ target: "answers equal the reference's (every read, tail and sealed)", value: wrong.length ? `different: ${wrong.join(", ")}` : "all equal", pass: wrong.length === 0 });
  if (results.runtime) {
    const reads = results.runtime.latency.filter((l) => l.name !== "health");
    const worst = reads.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const failing = reads.filter((l) => l.ratio > RUNTIME_TARGET).length;
    targets.push({ target: `dashboard reads ≤ ${RUNTIME_TARGET}x GET /health p50 through wrangler dev`, value: `worst ${worst.name} ${fmtRatio(worst.ratio)}; ${failing}/${reads.length} over`, pass: failing === 0 });
    const cells = results.runtime.matrix.flatMap((m) => m.reads.map((r) => ({ ...r, cell: `${m.org} ${m.days}d` })));
    if (cells.length > 0) {
      const worstCell = cells.reduce((a, b) => (b.ratio > a.ratio ? b : a));
      targets.push({ target: `the same ≤ ${RUNTIME_TARGET}x for the median and smallest org and 7/30-day ranges`, value: `worst ${worstCell.name} (${worstCell.cell}) ${fmtRatio(worstCell.ratio)}; ${cells.filter((c) => c.ratio > RUNTIME_TARGET).length}/${cells.length} over`, pass: cells.every((c) => c.ratio <= RUNTIME_TARGET) });
    }
    const big = results.runtime.throughput.ingest.find((r) => r.batch === 1000);
    if (big) targets.push({ target: "ingest ≥ 25,000 events/s in 1000-event requests", value: `${fmtInt(big.unitsPerSecond)} events/s`, pass: big.unitsPerSecond >= 25_000 });
  }
  return targets;
}

function writeResults() {
  results.finishedAt = new Date().toISOString();
  writeFileSync(join(BENCH, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
}

function writePlans() {
  const lines = [];
  for (const r of results.queries ?? []) {
    for (const [label, s] of [["with tail", r.slowest], ["sealed", r.sealedSlowest]]) {
      if (!s) continue;
      lines.push(`==== ${r.name} (${label}): slowest statement ${s.ms.toFixed(2)} ms`, s.sql.trim(), `-- params: ${JSON.stringify(s.params)}`, "-- EXPLAIN QUERY PLAN", s.plan, "");
    }
  }
  for (const b of results.bulkReads ?? []) {
    const s = b.slowest;
    if (s) lines.push(`==== ${b.name} (before any cron): slowest statement ${s.ms.toFixed(2)} ms`, s.sql.trim(), `-- params: ${JSON.stringify(s.params)}`, "-- EXPLAIN QUERY PLAN", s.plan, "");
  }
  writeFileSync(join(BENCH, "plans.txt"), lines.join("\n"));
}

function printReport() {
  const o = opts;
  const d = results.data;
  const out = [];
  out.push("", `loginpulse bench — ${fmtInt(o.events)} events / ${o.orgs} orgs / ${o.days} days (seed ${o.seed}) on ${results.machine.cpus} CPU, ${results.machine.node}`);
  if (d) out.push(`data: ${fmtInt(d.identities)} identities (${fmtInt(d.machineIdentities)} machine), ${d.services} services; largest org ${d.largest.slug} = ${fmtInt(d.largest.events)} events (${(d.largest.share * 100).toFixed(1)}%); generated in ${d.seconds.toFixed(1)} s`);
  out.push(`source: git ${results.source.gitHead}${results.source.uncommittedSrcChanges ? " + uncommitted src changes" : ""}, src snapshot ${results.source.srcHash}${results.source.changedDuringRun ? " (src/ changed while the bench ran: every phase still measured this snapshot)" : ""}`);
  out.push(`reads: org ${results.context.org}, ${results.context.range.start}..${results.context.range.end} (${results.context.range.days} days); tail = ${results.context.tailEvents} unsealed events (${o.tailMinutes} min${o.tailPerDay ? ` at ${fmtInt(o.tailPerDay)} a day` : ""})`);

  out.push("", "1. Query cost through the D1 shim (node:sqlite, same engine and data): ours = src/ query functions, reference = raw-event shapes");
  out.push(
    table(
      [
        { title: "endpoint", align: "l" },
        { title: "ours ms (tail)", align: "r" },
        { title: "ours ms (sealed)", align: "r" },
        { title: "ours ms (before any cron)", align: "r" },
        { title: "reference ms", align: "r" },
        { title: "ratio (tail)", align: "r" },
        { title: "ratio (sealed)", align: "r" },
        { title: "target", align: "l" },
        { title: "round trips", align: "r" },
        { title: "answers", align: "l" },
      ],
      results.queries.map((r) => {
        const ratio = r.refMs / r.oursMs;
        const sealedRatio = r.refMs / r.sealedMs;
        const target = r.seed && !r.rawByDesign ? `≥${SEED_TARGET}x ${ratio >= SEED_TARGET ? "PASS" : "FAIL"}` : r.rawByDesign ? "n/a (raw by design)" : "–";
        const answers = r.equal && r.sealedEqual !== false ? "equal" : `DIFFERENT (${r.diff ?? r.sealedDiff})`;
        const bulk = results.bulkReads?.find((b) => b.name === r.name);
        return [r.name, fmtMs(r.oursMs), fmtMs(r.sealedMs), bulk ? `${fmtMs(bulk.ms)}${bulk.equalAfterRollup ? "" : " (!= rolled up)"}` : "–", fmtMs(r.refMs), fmtRatio(ratio), fmtRatio(sealedRatio), target, `${r.roundTrips}${r.roundTrips === 1 ? "" : " (!)"}`, answers];
      }),
    ),
  );

  const b = results.rollup.backfill;
  const inc = results.rollup.incremental;
  out.push("", "2. Rollup (runRollup through the shim, default chunking, repeated like the */15 cron)");
  out.push(
    table(
      [
        { title: "run", align: "l" },
        { title: "events", align: "r" },
        { title: "seconds", align: "r" },
        { title: "events/s", align: "r" },
        { title: "cron runs (20 s budget)", align: "r" },
        { title: "batches", align: "r" },
        { title: "org-days recomputed", align: "r" },
      ],
      [
        [`full backfill${b.cached ? " (cached, --reuse)" : ""}`, fmtInt(b.foldedEvents), b.seconds.toFixed(1), fmtInt(b.eventsPerSecond), fmtInt(b.cronRuns), fmtInt(b.batches), fmtInt(b.recomputedDays)],
        [`incremental (${o.tailMinutes}-min tail)`, fmtInt(inc.foldedEvents), (inc.ms / 1000).toFixed(3), "–", fmtInt(inc.cronRuns), fmtInt(inc.batches), fmtInt(inc.recomputedDays)],
      ],
    ),
  );

  if (results.runtime) {
    const rt = results.runtime;
    out.push("", `3. Through the local runtime (wrangler dev, same D1 file, tail unsealed): sequential latency, ratio = endpoint p50 / health p50 (target ≤ ${RUNTIME_TARGET}x)`);
    out.push(
      table(
        [
          { title: "endpoint", align: "l" },
          { title: "n", align: "r" },
          { title: "p50 ms", align: "r" },
          { title: "p95 ms", align: "r" },
          { title: "p50 / health", align: "r" },
          { title: "target", align: "l" },
        ],
        rt.latency.map((l) => [l.name, String(l.n), fmtMs(l.p50), fmtMs(l.p95), l.name === "health" ? "1x" : fmtRatio(l.ratio), l.name === "health" ? "" : l.ratio <= RUNTIME_TARGET ? "PASS" : "FAIL"]),
      ),
    );
    const t = rt.throughput;
    out.push(
      "",
      table(
        [
          { title: "throughput (sequential)", align: "l" },
          { title: "requests", align: "r" },
          { title: "requests/s", align: "r" },
          { title: "events/s", align: "r" },
          { title: "p50 ms", align: "r" },
          { title: "p95 ms", align: "r" },
          { title: "cost in /health requests", align: "r" },
        ],
        [
          ["GET /health", fmtInt(t.health.requests), fmtInt(t.health.requestsPerSecond), "–", fmtMs(t.health.p50), fmtMs(t.health.p95), "1"],
          ...t.ingest.map((i) => [`POST /api/events (${i.batch}/request)`, fmtInt(i.requests), i.requestsPerSecond.toFixed(1), fmtInt(i.unitsPerSecond), fmtMs(i.p50), fmtMs(i.p95), i.requestCostRatio.toFixed(1)]),
        ],
      ),
    );
    if (rt.matrix.length > 0) {
      const names = [...new Set(rt.matrix.flatMap((m) => m.reads.map((r) => r.name)))];
      out.push("", `   p50 / health p50 for more organizations and ranges (${opts.matrixRequests} requests per read; platform reads only in the largest org's rows)`);
      out.push(
        table(
          [{ title: "org (rank), days", align: "l" }, { title: "health ms", align: "r" }, ...names.map((n) => ({ title: n, align: "r" }))],
          rt.matrix.map((m) => [`${m.org} (${m.rank}), ${m.days}`, fmtMs(m.health), ...names.map((n) => {
            const r = m.reads.find((x) => x.name === n);
            return r ? fmtRatio(r.ratio) : "–";
          })]),
        ),
      );
    }
  }
  out.push("", "Targets (DESIGN.md, Performance targets)");
  out.push(table([{ title: "target", align: "l" }, { title: "measured", align: "l" }, { title: "", align: "l" }], results.targets.map((t) => [t.target, t.value, t.pass === null ? "" : t.pass ? "PASS" : "FAIL"])));
  out.push("", `total ${results.totalSeconds.toFixed(0)} s; results: ${rel(join(BENCH, "results.json"))}, slowest statement + EXPLAIN QUERY PLAN per read: ${rel(join(BENCH, "plans.txt"))}`, "");
  console.log(out.join("\n"));
}
