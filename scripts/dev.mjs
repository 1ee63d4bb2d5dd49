#!/usr/bin/env node
// `npm run dev`: the whole local loop in one command.
//
//   1. dev signing key in .dev/ (generated on first run) and .dev.vars for wrangler, with
//      ENVIRONMENT=development and a 24 h platform-owner DEV_DASHBOARD_TOKEN for the dashboard
//   2. `wrangler d1 migrations apply DB --local` (non-interactive)
//   3. builds the dashboard and the API reference (web/ -> dist/web) and rebuilds on change;
//      `wrangler dev --test-scheduled` on PORT (default 8787), waits for GET /health
//   4. on an empty local database: POSTs ~90 days of deterministic demo events and runs
//      the */15 rollup through /__scheduled; from then on triggers it every minute, so
//      new events reach the sealed tables as they would in production every 15 minutes
//   5. prints the dashboard and API reference URLs, ready-to-use tokens and example requests
//
// Ctrl-C stops wrangler and exits with its status.
//
// Options (npm run dev -- <options>):
//   --seed      load the demo data even if the database already has events (ids are
//               stable, so already-stored events are reported as duplicates)
//   --no-seed   never load demo data
//   --reset     delete the local D1 database (.wrangler/state/v3/d1) before starting
// Environment: PORT (default 8787).
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadDemoEvents } from "./lib/demo-load.mjs";
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevKey, mintToken, ROOT, writeDevVars } from "./lib/dev-keys.mjs";
import { watchWeb } from "./lib/web-build.mjs";

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      seed: { type: "boolean", default: false },
      "no-seed": { type: "boolean", default: false },
      reset: { type: "boolean", default: false },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`${err.message}\nUsage: npm run dev -- [--seed | --no-seed] [--reset]   (env PORT, default 8787)`);
  process.exit(2);
}

const COLOR = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code, text) => (COLOR ? `\x1b[${code}m${text}\x1b[0m` : text);
const log = (msg) => console.log(`${paint(36, "[dev]")} ${msg}`);
const warn = (msg) => console.error(`${paint(31, "[dev]")} ${msg}`);
function fail(msg) {
  warn(msg);
  process.exit(1);
}

const PORT = Number(process.env.PORT || 8787);
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) fail(`PORT must be a TCP port number, got "${process.env.PORT}"`);
const BASE = `http://localhost:${PORT}`;
const ROLLUP_CRON = "*/15 * * * *";

// wrangler 4 needs Node >= 22.12. `npm run dev` puts the project's Node 22 first on PATH;
// if this script was started with an older node directly, use the project's node for wrangler.
function nodeForWrangler() {
  const major = Number(process.versions.node.split(".")[0]);
  if (major >= 22) return process.execPath;
  const local = join(ROOT, "node_modules", "node", "bin", "node");
  if (existsSync(local)) return local;
  log(`warning: Node ${process.versions.node} is too old for wrangler 4; run through \`npm run dev\``);
  return process.execPath;
}
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
if (!existsSync(WRANGLER)) fail("wrangler is not installed: run `npm install` first");
const NODE = nodeForWrangler();
const childEnv = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  ...(COLOR ? { FORCE_COLOR: "1" } : {}),
};

// ---- signals: forward to whatever wrangler process is running ---------------------------

let child = null;
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (!child) process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    // A second Ctrl-C while wrangler is shutting down means "now".
    child.kill(stopping ? "SIGKILL" : signal);
    stopping = true;
  });
}

function exitCode(code, signal) {
  if (code !== null) return code;
  return 128 + ({ SIGINT: 2, SIGHUP: 1, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 1);
}

function run(args, extraEnv = {}) {
  return new Promise((resolve) => {
    child = spawn(NODE, [WRANGLER, ...args], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], env: { ...childEnv, ...extraEnv } });
    child.on("exit", (code, signal) => {
      child = null;
      resolve(exitCode(code, signal));
    });
  });
}

// ---- 1. key + .dev.vars --------------------------------------------------------------------

const { privateJwk, jwks, created } = await ensureDevKey();
log(created ? `generated dev signing key ${privateJwk.kid} (${privateJwk.alg}) in .dev/` : `using dev signing key ${privateJwk.kid} from .dev/`);
// The dashboard's sign-in under `npm run dev` (GET /api/dev/token); a deployed worker has neither var.
const dashboardToken = await mintToken(privateJwk, { sub: "dev-dashboard", is_platform_owner: true, ttl: "24h" });
writeDevVars(jwks, { ENVIRONMENT: "development", DEV_DASHBOARD_TOKEN: dashboardToken });
log("wrote .dev.vars (JWT_PUBLIC_JWKS, JWT_ISSUER, JWT_AUDIENCE, ENVIRONMENT=development, DEV_DASHBOARD_TOKEN)");

// ---- 2. migrations -------------------------------------------------------------------------

if (opts.reset) {
  const d1State = join(ROOT, ".wrangler", "state", "v3", "d1");
  rmSync(d1State, { recursive: true, force: true });
  log("--reset: deleted the local D1 database");
}
log("applying D1 migrations (local)…");
// wrangler asks for confirmation unless it is non-interactive or in CI: stdin is not a TTY and CI=true.
const migrateCode = await run(["d1", "migrations", "apply", "DB", "--local"], { CI: "true" });
if (stopping) process.exit(migrateCode);
if (migrateCode !== 0) fail(`wrangler d1 migrations apply failed (exit ${migrateCode})`);

// ---- 3. wrangler dev -----------------------------------------------------------------------

// Something else already answering on PORT would pass our health check: refuse early.
try {
  await fetch(`${BASE}/health`, { signal: AbortSignal.timeout(1000) });
  fail(`something is already listening on port ${PORT} (another \`npm run dev\`?): stop it or set PORT`);
} catch {
  // connection refused: the port is free
}
try {
  await watchWeb(ROOT, undefined, () => log("rebuilt the dashboard (dist/web)"));
} catch (err) {
  fail(`building the dashboard failed: ${err.message}`);
}
log("built the dashboard and the API reference into dist/web (rebuilt when web/ changes)");
log(`starting wrangler dev on ${BASE} …`);
const rollupWaiters = [];
const dev = spawn(
  NODE,
  [WRANGLER, "dev", "--test-scheduled", "--port", String(PORT), "--show-interactive-dev-session=false"],
  { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: childEnv },
);
child = dev;
// Forward wrangler's output and watch it for the rollup job's log line.
for (const [stream, out] of [[dev.stdout, process.stdout], [dev.stderr, process.stderr]]) {
  let pending = "";
  stream.on("data", (chunk) => {
    out.write(chunk);
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) {
      const m = /\{"job":"rollup".*\}/.exec(line);
      if (!m) continue;
      try {
        const result = JSON.parse(m[0]);
        for (const resolve of rollupWaiters.splice(0)) resolve(result);
      } catch {
        // not the JSON line we are after
      }
    }
  });
}
let devExited = false;
dev.on("exit", (code, signal) => {
  devExited = true;
  child = null;
  if (!stopping) warn(`wrangler dev exited (${signal ?? `code ${code}`})`);
  process.exit(exitCode(code, signal));
});

async function waitForHealth(timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (devExited) return false;
    try {
      const res = await fetch(`${BASE}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

async function api(path, token, init = {}) {
  const res = await fetch(`${BASE}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}), ...init.headers },
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

function stopDev(code) {
  stopping = true;
  dev.removeAllListeners("exit");
  dev.on("exit", () => process.exit(code));
  dev.kill("SIGINT");
  setTimeout(() => process.exit(code), 10_000).unref();
}

try {
  if (!(await waitForHealth())) {
    if (devExited || stopping) await new Promise(() => {}); // the exit handler ends the process
    throw new Error(`the worker did not answer GET ${BASE}/health within 120 s`);
  }
  log(`worker is up on ${BASE}`);

  // ---- 4. demo data ------------------------------------------------------------------------

  const platformToken = await mintToken(privateJwk, { sub: "dev-platform-owner", is_platform_owner: true, ttl: "24h" });
  const ingestToken = await mintToken(privateJwk, { sub: "dev-ingest", scope: "events:write", ttl: "24h" });
  const overview = await api("/api/platform/analytics/overview", platformToken);
  if (overview.status !== 200) throw new Error(`GET /api/platform/analytics/overview answered ${overview.status}: ${JSON.stringify(overview.body)}`);
  const empty = overview.body.organizations === 0;
  let seeded = null;
  if (opts["no-seed"]) {
    log("--no-seed: not loading demo data");
  } else if (empty || opts.seed) {
    seeded = await loadDemoData(ingestToken);
    await runRollupUntilDone();
  } else {
    log(`database already has ${overview.body.organizations} organization(s): not loading demo data (use --seed or --reset)`);
  }

  // ---- 5. banner -----------------------------------------------------------------------------

  await printBanner({ platformToken, seeded });
  // The deployed cron runs every 15 minutes; locally every minute, so the sealed path is exercised.
  const cron = encodeURIComponent(ROLLUP_CRON).replace(/%20/g, "+");
  setInterval(() => {
    fetch(`${BASE}/__scheduled?cron=${cron}`)
      .then((res) => res.arrayBuffer())
      .catch(() => {});
  }, 60_000);
} catch (err) {
  if (!stopping) {
    warn(err.message);
    stopDev(1);
  }
}

async function loadDemoData(token) {
  const started = Date.now();
  log("loading the demo events in batches…");
  const { events, summary, accepted, duplicates } = await loadDemoEvents(BASE, token);
  log(`demo data: ${events.length} events (${summary.map((s) => s.org).join(", ")}): ${accepted} accepted, ${duplicates} duplicates in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { summary, accepted, duplicates };
}

async function runRollupUntilDone() {
  const cron = encodeURIComponent(ROLLUP_CRON).replace(/%20/g, "+");
  for (let run = 1; run <= 20; run++) {
    const logged = new Promise((resolve) => {
      rollupWaiters.push(resolve);
      setTimeout(() => resolve(null), 120_000).unref();
    });
    const res = await fetch(`${BASE}/__scheduled?cron=${cron}`);
    await res.text();
    if (!res.ok) throw new Error(`GET /__scheduled answered ${res.status}`);
    const result = await logged;
    if (!result) throw new Error("the rollup did not log a result within 120 s");
    log(`rollup run ${run}: folded ${result.foldedEvents} events, recomputed ${result.recomputedDays} org-days${result.complete ? "" : " (continuing)"}`);
    if (result.complete) return;
  }
  throw new Error("the rollup did not complete after 20 runs");
}

async function printBanner({ platformToken, seeded }) {
  const orgToken = await mintToken(privateJwk, { sub: "dev-acme-admin", email: "admin@acme.example", org: "acme-corp", ttl: "24h" });
  const ingestToken = await mintToken(privateJwk, { sub: "dev-ingest", scope: "events:write", ttl: "24h" });
  const lines = [
    "",
    `${paint(1, `loginpulse is running at ${BASE}`)}   (OpenAPI: ${BASE}/openapi.json, cron: ${BASE}/__scheduled?cron=*/15+*+*+*+*, run every minute)`,
    "",
    `  Dashboard:      ${paint(1, `${BASE}/`)}   (signed in automatically with a dev platform-owner token, valid 24h)`,
    `  API reference:  ${paint(1, `${BASE}/docs`)}`,
    "",
  ];
  if (seeded) {
    lines.push(`Demo data (90 days ending now): ${seeded.accepted} events`);
    for (const s of seeded.summary) {
      lines.push(`  ${s.org.padEnd(14)} ${String(s.humans).padStart(4)} humans ${String(s.machines).padStart(3)} machines ${String(s.services).padStart(2)} services ${String(s.logins).padStart(6)} logins ${String(s.failures).padStart(4)} failures`);
    }
    lines.push("");
  }
  lines.push(
    `Tokens (ES256, kid ${privateJwk.kid}, iss ${DEV_ISSUER}, aud ${DEV_AUDIENCE}, valid 24h; more: npm run -s token -- --help):`,
    `  ORG_TOKEN=${orgToken}`,
    `  PLATFORM_TOKEN=${platformToken}`,
    `  INGEST_TOKEN=${ingestToken}`,
    "",
    "Try:",
    `  curl -s -H "Authorization: Bearer $ORG_TOKEN" ${BASE}/api/organizations/acme-corp/analytics/summary`,
    `  curl -s -H "Authorization: Bearer $PLATFORM_TOKEN" '${BASE}/api/platform/analytics/organizations?sort=active_users'`,
    `  curl -s -X POST -H "Authorization: Bearer $INGEST_TOKEN" -H 'content-type: application/json' ${BASE}/api/events \\`,
    `       -d '{"id":"hello-1","org":"acme-corp","user_id":"maria@acme.example","service_id":"acme-console","provider":"passkey"}'`,
    "",
    "Ctrl-C stops the server.",
    "",
  );
  console.log(lines.join("\n"));
}
