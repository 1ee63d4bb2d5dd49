#!/usr/bin/env node
// `npm run test:load`: a bounded load test of POST /api/events through the local runtime.
// It proves "no loss, no double count under load":
//
//   1. a fresh D1 (--persist-to a temp dir, the real migrations), a throwaway ES256 signing
//      key in a vars file, and `wrangler dev --test-scheduled` on a free 127.0.0.1 port, serving
//      a frozen copy of src/ (scripts/lib/snapshot.mjs) so concurrent edits cannot reload it
//   2. a deterministic event universe (seeded PRNG): unique (org, id) events over a few orgs,
//      users, machines, services and providers, created within the last ~20 days
//   3. concurrent clients, each with its own token (sub load-client-<n>), post batches of
//      1..500 events that overlap on purpose: the same event in batches of different clients
//      (sent at about the same time), an event twice in one batch, ~10% of requests sent again
//      after their response (a lost response), ~3% aborted mid-flight and then sent again until
//      a response arrives; 429 and 503 are waited out (Retry-After) and the same body re-sent
//   4. checks: every event acknowledged; per response accepted + duplicates = events sent and
//      nothing already acknowledged is accepted again; summed accepted ≤ unique events, short
//      only by events of aborted requests; stored events per org (read from the D1 files) equal the
//      unique events exactly, with the same successes, machine events, identities and services;
//      login-trends (per day) and logins-by-provider equal a recount from the generated events,
//      both before the rollup (live tail) and after the */15 cron has folded everything
//   3b. the per-token rate limit through the real binding (wrangler.toml's, its period kept and its
//      limit lowered to LOAD_TEST_RATE_LIMIT in the tested copy): before the load, one more token
//      sends single-event requests 8 at a time from a reserved pool until it is refused with 429
//      (RATE_LIMITED, Retry-After = wrangler.toml's period); the load starts then, while it waits
//      and sends the rest of the pool; a token that is never refused is a failure. The pool
//      counts like every other event.
//   5. a compact report; exit 1 on any mismatch. wrangler is always stopped, the temp dir removed.
//
// Options (npm run test:load -- <options>):
//   --events N   unique events (default 80000)      --clients N  concurrent clients (default 16)
//   --orgs N     organizations (default 4)          --seed N     PRNG seed (default 1)
//   --keep       keep the temp dir (D1 state, vars file) for inspection
//   --queue      queue-buffered ingest: the tested wrangler.toml gets scripts/lib/scale-config.mjs's
//                queue block; every 202 must say {accepted: n, duplicates: null, queued: true}, and
//                the checks run once the consumer has drained the queue (nothing dead-lettered)
//   --shards N   organizations sharded across N databases: the tested wrangler.toml gets
//                scripts/lib/scale-config.mjs's DB_SHARD_n blocks, every database its migrations, and
//                the storage checks read every database (each must hold some of the organizations,
//                each organization's events exactly one); the API's answers must not change
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { throwawaySigner, writeSignerVars } from "./lib/keys.mjs";
import { QUEUES_TOML, shardBindings, shardsToml } from "./lib/scale-config.mjs";
import { queryLocalD1 } from "./lib/local-d1.mjs";
import { freePort, runWrangler, startWrangler } from "./lib/runtime.mjs";
import { snapshotSources, sourcesChanged } from "./lib/snapshot.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const ROLLUP_CRON = "*/15 * * * *";
const DAY_MS = 86_400_000;
const MAX_BATCH = 500;
const SPREAD_DAYS = 20;
const RETRY_SHARE = 0.1;
const ABORT_SHARE = 0.03;
/** Hard bounds: the load phase, waits for one request, and 429/503 rounds per request. */
const LOAD_DEADLINE_MS = 75_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_THROTTLED_PER_REQUEST = 20;
const MAX_ROLLUP_RUNS = 10;

const USAGE = "Usage: npm run test:load -- [--events N] [--clients N] [--orgs N] [--seed N] [--queue] [--shards N] [--keep]";
/** How long the queue consumer may take to store everything after the load (--queue). */
const DRAIN_DEADLINE_MS = 60_000;

function positiveInt(name, value, max) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer in 1..${max}, got "${value}"`);
  return n;
}

let opts;
try {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "80000" },
      clients: { type: "string", default: "16" },
      orgs: { type: "string", default: "4" },
      seed: { type: "string", default: "1" },
      keep: { type: "boolean", default: false },
      queue: { type: "boolean", default: false },
      shards: { type: "string", default: "1" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  opts = {
    events: positiveInt("events", values.events, 200_000),
    clients: positiveInt("clients", values.clients, 256),
    orgs: positiveInt("orgs", values.orgs, 50),
    seed: positiveInt("seed", values.seed, 2 ** 31 - 1),
    keep: values.keep,
    queue: values.queue,
    shards: positiveInt("shards", values.shards, 4),
  };
} catch (err) {
  console.error(`load-test: ${err.message}\n${USAGE}`);
  process.exit(2);
}

const started = performance.now();
const log = (msg) => console.log(`[load ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
const fmt = (n) => Math.round(n).toLocaleString("en-US");

// ---- deterministic data ------------------------------------------------------------------------

/** mulberry32: small, fast, good enough to make the test reproducible from --seed. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  const pick = (arr) => arr[Math.floor(next() * arr.length)];
  const shuffle = (arr) => {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [arr[i], arr[j]] = [arr[j], arr[i]];
    }
    return arr;
  };
  return { next, int, pick, shuffle };
}

const dateOf = (ms) => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
const keyOf = (e) => `${e.org}\u0000${e.id}`;

/**
 * The event universe: `count` events with unique (org, id). Orgs get uneven shares; some ids
 * are reused in another org on purpose (ids are unique per organization, not globally); a few
 * user_ids exist as both a human and a machine identity; ~1% of timestamps sit exactly on a
 * UTC day boundary (first or last millisecond of the day).
 */
function generateUniverse({ count, orgs, seed, now }) {
  const rnd = prng(seed);
  const slugs = Array.from({ length: orgs }, (_, i) => `load-org-${i + 1}`);
  const weights = slugs.map((_, i) => 1 / (i + 1.5));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const humanProviders = ["password", "google", "github", "passkey", "okta"];
  const machineProviders = ["client_credentials", "api_key"];
  const model = slugs.map((slug, o) => ({
    slug,
    humans: Array.from({ length: 100 + 20 * o }, (_, i) => `user-${i}@${slug}.example`),
    machines: Array.from({ length: 12 + o }, (_, i) => `bot-${i}`),
    shared: Array.from({ length: 4 }, (_, i) => `shared-${i}`),
    services: Array.from({ length: 4 + (o % 3) }, (_, i) => `${slug}-svc-${i}`),
  }));
  const idsByOrg = slugs.map(() => new Set());
  const latest = now - 1000; // ≤ now: the API refuses events more than 5 minutes ahead
  const events = [];
  for (let k = 0; k < count; k++) {
    let r = rnd.next() * totalWeight;
    let o = 0;
    r -= weights[0];
    while (o < orgs - 1 && r > 0) r -= weights[++o];
    const m = model[o];
    const machine = rnd.next() < 0.15;
    const pool = rnd.next() < 0.03 ? m.shared : machine ? m.machines : m.humans;
    // skewed: a few identities log in a lot, most rarely
    const user = pool[Math.floor(pool.length * rnd.next() ** 2)];
    let created = latest - Math.floor(rnd.next() * SPREAD_DAYS * DAY_MS);
    const edge = rnd.next();
    if (edge < 0.005) created = Math.floor(created / DAY_MS) * DAY_MS; // 00:00:00.000
    else if (edge < 0.01) created = Math.min(latest, Math.floor(created / DAY_MS) * DAY_MS + DAY_MS - 1); // 23:59:59.999
    let id = `ev-${seed}-${k.toString(36)}`;
    if (k > 0 && rnd.next() < 0.05) {
      const other = events[rnd.int(0, events.length - 1)];
      if (other.org !== m.slug && !idsByOrg[o].has(other.id)) id = other.id;
    }
    idsByOrg[o].add(id);
    const event = {
      id,
      org: m.slug,
      user_id: user,
      service_id: rnd.pick(m.services),
      provider: rnd.pick(machine ? machineProviders : humanProviders),
      created_at: new Date(created).toISOString(),
    };
    // defaults exercised too: outcome and identity_type are often left out
    const failure = rnd.next() < 0.12;
    if (failure) event.outcome = "failure";
    else if (rnd.next() < 0.5) event.outcome = "success";
    if (machine) event.identity_type = "machine";
    else if (rnd.next() < 0.5) event.identity_type = "human";
    events.push(event);
  }
  return { slugs, events };
}

/** What the API must report, recounted from the universe. */
function expectations(slugs, events) {
  const perOrg = new Map(
    slugs.map((s) => [s, { events: 0, successes: 0, machineEvents: 0, createdSum: 0, identities: new Set(), services: new Set(), days: new Map(), providers: new Map() }]),
  );
  let earliest = Infinity;
  for (const e of events) {
    const x = perOrg.get(e.org);
    const ms = Date.parse(e.created_at);
    earliest = Math.min(earliest, ms);
    const type = e.identity_type ?? "human";
    x.events++;
    x.createdSum += ms % 1_000_000_007;
    if (type === "machine") x.machineEvents++;
    x.identities.add(`${e.user_id}\u0000${type}`);
    x.services.add(e.service_id);
    if ((e.outcome ?? "success") === "success") {
      x.successes++;
      const day = dateOf(ms);
      x.days.set(day, (x.days.get(day) ?? 0) + 1);
      x.providers.set(e.provider, (x.providers.get(e.provider) ?? 0) + 1);
    }
  }
  return { perOrg, earliestDate: dateOf(earliest) };
}

/**
 * Splits the universe into requests, deterministically. Every event is the "primary" of
 * exactly one batch; a batch also carries copies of events that are the primaries of batches
 * planned nearby (so usually in flight on another client at the same time), sometimes of any
 * event, and sometimes one of its own events twice. Batch b goes to client b % clients.
 */
function planRequests(universe, { clients, seed }) {
  const rnd = prng(seed ^ 0x5eed1234);
  const n = universe.length;
  const order = rnd.shuffle(Array.from({ length: n }, (_, i) => i));
  const primaryBatch = new Int32Array(n);
  const batches = [];
  for (let cursor = 0; cursor < n; ) {
    const size = rnd.int(1, MAX_BATCH);
    const overlap = size >= 4 && rnd.next() < 0.5 ? rnd.int(1, Math.max(1, Math.floor(size * 0.2))) : 0;
    const intra = size >= 2 && rnd.next() < 0.25 ? rnd.int(1, Math.min(3, size - overlap - 1)) : 0;
    const fresh = Math.min(n - cursor, Math.max(1, size - overlap - intra));
    const b = batches.length;
    const primaries = order.slice(cursor, cursor + fresh);
    for (const i of primaries) primaryBatch[i] = b;
    batches.push({ primaries, overlap, intra, cursor });
    cursor += fresh;
  }
  const window = clients * 250; // about the events other clients are sending right now
  const requests = batches.map((batch, b) => {
    const events = [...batch.primaries];
    const copies = { cross: 0, crossClient: 0, intra: 0 };
    for (let j = 0; j < batch.overlap; j++) {
      const pos =
        rnd.next() < 0.7
          ? Math.min(n - 1, Math.max(0, batch.cursor + rnd.int(-window, window)))
          : rnd.int(0, n - 1);
      const i = order[pos];
      if (primaryBatch[i] === b) continue;
      events.splice(rnd.int(0, events.length), 0, i);
      copies.cross++;
      if (primaryBatch[i] % clients !== b % clients) copies.crossClient++;
    }
    for (let j = 0; j < batch.intra && events.length > 0; j++) {
      events.splice(rnd.int(0, events.length), 0, events[rnd.int(0, events.length - 1)]);
      copies.intra++;
    }
    return {
      index: b,
      client: b % clients,
      events,
      copies,
      retry: rnd.next() < RETRY_SHARE,
      abortAfterMs: rnd.next() < ABORT_SHARE ? rnd.int(1, 8) : null,
      single: events.length === 1 && rnd.next() < 0.5, // the one-event body shape
    };
  });
  // Small runs still exercise every path once.
  if (requests.length >= 2) {
    if (!requests.some((r) => r.retry)) requests[requests.length - 1].retry = true;
    if (!requests.some((r) => r.abortAfterMs !== null)) requests[Math.floor(requests.length / 2)].abortAfterMs = 3;
  }
  if (!requests.some((r) => r.copies.intra > 0)) {
    const r = requests.reduce((a, b) => (b.events.length > a.events.length ? b : a));
    if (r.events.length < MAX_BATCH) {
      r.events.push(r.events[0]);
      r.copies.intra++;
      r.single = false;
    }
  }
  return requests;
}

// ---- keys, vars, wrangler --------------------------------------------------------------------

const wrangler = (cwd, args) => runWrangler(WRANGLER, cwd, args);

/**
 * Runs SQL statements against every local D1 database (`DB`, and the shards with --shards), read
 * from their files (scripts/lib/local-d1.mjs); one rows array per statement, every database's rows
 * concatenated (an organization's rows live in one database).
 */
function d1Query(persistTo, statements) {
  return queryLocalD1(persistTo, statements, { databases: opts.shards });
}

// ---- the load phase ----------------------------------------------------------------------------

class Failure extends Error {}

/** INGEST_RATE_LIMITER's { limit, period } from wrangler.toml. */
/**
 * The tested copy of wrangler.toml keeps INGEST_RATE_LIMITER's period (which 429s announce)
 * but lowers its limit to this, so one token's burst reaches it whatever the machine's speed:
 * at wrangler.toml's 1000 per 10 s a busy 2-core machine may never send 100 requests a second.
 */
const LOAD_TEST_RATE_LIMIT = 200;

/** Rewrites the limit of INGEST_RATE_LIMITER in a wrangler.toml. */
function lowerIngestRateLimit(configPath, limit) {
  const toml = readFileSync(configPath, "utf8");
  const lowered = toml.replace(/(name\s*=\s*"INGEST_RATE_LIMITER"[^[]*?limit\s*=\s*)\d+/, `$1${limit}`);
  if (lowered === toml) throw new Failure(`${configPath}: could not lower INGEST_RATE_LIMITER's limit`);
  writeFileSync(configPath, lowered);
}

function ingestRateLimit(configPath) {
  const toml = readFileSync(configPath, "utf8");
  const block = toml.match(/name\s*=\s*"INGEST_RATE_LIMITER"[^[]*/)?.[0] ?? "";
  const limit = Number(block.match(/limit\s*=\s*(\d+)/)?.[1]);
  const period = Number(block.match(/period\s*=\s*(\d+)/)?.[1]);
  if (!limit || !period) throw new Failure(`${configPath}: no [[ratelimits]] INGEST_RATE_LIMITER with simple = { limit, period }`);
  return { limit, period };
}

function retryAfterMs(res) {
  const h = res.headers.get("retry-after");
  if (h === null) return null;
  if (/^\d+$/.test(h.trim())) return Number(h) * 1000;
  const at = Date.parse(h);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

async function runLoad({ base, universe, requests, tokens, burst }) {
  const stats = {
    requestsPlanned: requests.length,
    attempts: 0, // HTTP requests started, of every kind (the load's and the rate-limit phase's, summed at the end)
    responses202: 0,
    eventsSent: 0, // events in every attempt (retries, aborted and throttled ones included; summed at the end)
    eventsSeen: 0, // events in requests whose 202 we saw
    accepted: 0,
    duplicates: 0,
    retries: 0, // same body again after a 202 (lost response)
    aborts: 0, // aborted by us mid-flight
    abortRetries: 0, // re-sends after an abort
    throttled429: 0,
    unavailable503: 0,
    waitedMs: 0,
    copies: { cross: 0, crossClient: 0, intra: 0 },
  };
  const acked = new Set(); // keys of events in a request answered 202: stored for sure
  const abortedKeys = new Set(); // keys of events in aborted attempts: may be stored unseen
  const problems = [];
  const problem = (msg) => {
    problems.push(msg);
    if (problems.length <= 10) console.error(`  MISMATCH ${msg}`);
  };
  const deadline = Date.now() + LOAD_DEADLINE_MS;
  // what the load clients and the rate-limit phase each sent (they run side by side)
  const loadStats = { attempts: 0, eventsSent: 0 };
  const burstStats = { attempts: 0, eventsSent: 0, refused: null }; // refused: attempts until the first 429
  let burstRefused;
  const refusedOrDone = new Promise((resolve) => {
    burstRefused = resolve;
  });

  /**
   * Sends one body until a 202 arrives; returns the parsed response. `sent` describes the body
   * as it went out (events and distinct keys, parsed back from the very bytes posted), so the
   * accounting cannot trust the plan over what was actually sent.
   */
  async function deliver(req, { body, count, keys }, token, { abortAfterMs = null } = {}) {
    let throttled = 0;
    let abortOnce = abortAfterMs;
    for (;;) {
      if (Date.now() > deadline) throw new Failure(`load phase exceeded ${LOAD_DEADLINE_MS / 1000} s (request #${req.index})`);
      const controller = new AbortController();
      const timer = abortOnce !== null ? setTimeout(() => controller.abort(new Error("load-test abort")), abortOnce) : null;
      const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
      const phase = req.client === "burst" ? burstStats : loadStats;
      phase.attempts++;
      phase.eventsSent += count;
      let res;
      let text;
      const ackedBefore = keys.filter((k) => acked.has(k)).length;
      try {
        res = await fetch(`${base}/api/events`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body,
          signal,
        });
        text = await res.text();
      } catch (err) {
        if (controller.signal.aborted) {
          stats.aborts++;
          stats.abortRetries++;
          for (const k of keys) abortedKeys.add(k);
          abortOnce = null; // retried until a response arrives
          continue;
        }
        throw new Failure(`request #${req.index} (client ${req.client}): no response: ${err?.cause?.message ?? err?.message ?? err}`);
      } finally {
        if (timer) clearTimeout(timer);
      }
      if (res.status === 429 || res.status === 503) {
        if (res.status === 429) {
          stats.throttled429++;
          if (req.client === "burst" && burstStats.refused === null) {
            burstStats.refused = burstStats.attempts;
            burstRefused();
          }
        }
        else stats.unavailable503++;
        let code = null;
        try {
          code = JSON.parse(text).error_code;
        } catch {
          // checked below
        }
        if (res.status === 429 && code !== "RATE_LIMITED") problem(`request #${req.index}: 429 with error_code ${code}: ${text.slice(0, 300)}`);
        if (res.status === 429 && res.headers.get("retry-after") !== String(burst.period)) {
          problem(`request #${req.index}: 429 with Retry-After ${res.headers.get("retry-after")}, expected wrangler.toml's period ${burst.period}`);
        }
        const wait = retryAfterMs(res);
        if (wait === null) problem(`request #${req.index}: ${res.status} without a usable Retry-After header`);
        if (++throttled > MAX_THROTTLED_PER_REQUEST) throw new Failure(`request #${req.index}: still ${res.status} after ${MAX_THROTTLED_PER_REQUEST} waits: ${text.slice(0, 500)}`);
        const ms = Math.min(wait ?? 1000, 15_000);
        stats.waitedMs += ms;
        await new Promise((r) => setTimeout(r, ms));
        continue;
      }
      if (res.status !== 202) throw new Failure(`request #${req.index} (client ${req.client}, ${count} events) answered ${res.status}: ${text.slice(0, 1000)}`);
      let result;
      try {
        result = JSON.parse(text);
      } catch {
        throw new Failure(`request #${req.index}: 202 with a body that is not JSON: ${text.slice(0, 500)}`);
      }
      stats.responses202++;
      stats.eventsSeen += count;
      if (opts.queue) {
        // enqueued, not stored yet: duplicates are unknown; storage is checked after the drain
        if (result?.queued !== true || result.accepted !== count || result.duplicates !== null) {
          problem(`request #${req.index}: 202 body is not {accepted: ${count}, duplicates: null, queued: true}: ${text.slice(0, 300)}`);
        }
        for (const k of keys) acked.add(k);
        return { accepted: 0, duplicates: count };
      }
      if (!Number.isInteger(result?.accepted) || !Number.isInteger(result?.duplicates)) {
        throw new Failure(`request #${req.index}: 202 body is not {accepted, duplicates}: ${text.slice(0, 500)}`);
      }
      stats.accepted += result.accepted;
      stats.duplicates += result.duplicates;
      const tag = `request #${req.index} (client ${req.client}, ${count} events, ${keys.length} distinct)`;
      if (result.accepted + result.duplicates !== count) {
        problem(`${tag}: accepted ${result.accepted} + duplicates ${result.duplicates} ≠ ${count} events sent`);
      }
      // already acknowledged before this attempt left = stored before it: must be a duplicate
      if (result.accepted > keys.length - ackedBefore) {
        problem(`${tag}: accepted ${result.accepted}, but ${ackedBefore} of its ${keys.length} distinct events were acknowledged before it was sent`);
      }
      for (const k of keys) acked.add(k);
      return result;
    }
  }

  async function client(c, mine) {
    for (const req of mine) {
      const body = JSON.stringify(req.single ? universe[req.events[0]] : { events: req.events.map((i) => universe[i]) });
      const parsed = JSON.parse(body);
      const events = req.single ? [parsed] : parsed.events;
      const sent = { body, count: events.length, keys: [...new Set(events.map(keyOf))] };
      await deliver(req, sent, tokens[c], { abortAfterMs: req.abortAfterMs });
      if (req.retry) {
        // the response "was lost": the very same body again; everything in it is stored now
        stats.retries++;
        const again = await deliver(req, sent, tokens[c]);
        if (again.accepted !== 0) problem(`request #${req.index}: re-sent after its 202 and accepted ${again.accepted} events again`);
      }
    }
  }

  for (const req of requests) {
    for (const k of Object.keys(stats.copies)) stats.copies[k] += req.copies[k];
  }

  // The rate-limit phase: one more token sends single-event requests 8 at a time until it is
  // refused; the load starts then, while that token waits out its Retry-After and sends the rest
  // of its pool in batches.
  async function rateLimitPhase() {
    const b0 = performance.now();
    let next = 0;
    const single = (i, tag) => {
      const body = JSON.stringify(universe[i]);
      return deliver({ index: tag, client: "burst" }, { body, count: 1, keys: [keyOf(universe[i])] }, burst.token);
    };
    // (with --queue the pool goes out in batches like the rest: the limit is the same middleware, proved by the direct run)
    try {
      await Promise.all(
        Array.from({ length: opts.queue ? 0 : 8 }, async () => {
          while (burstStats.refused === null && next < burst.pool.length) {
            const k = next++;
            await single(burst.pool[k], `burst-${k}`);
          }
        }),
      );
    } finally {
      burstRefused(); // refused, never refused (a failure, reported below), crashed or --queue: the load goes on
    }
    for (let k = next; k < burst.pool.length; k += MAX_BATCH) {
      const events = burst.pool.slice(k, k + MAX_BATCH).map((i) => universe[i]);
      const body = JSON.stringify({ events });
      await deliver({ index: `burst-rest-${k}`, client: "burst" }, { body, count: events.length, keys: [...new Set(events.map(keyOf))] }, burst.token);
    }
    return (performance.now() - b0) / 1000;
  }

  const perClient = tokens.map((_, c) => requests.filter((r) => r.client === c));
  const burstRun = Promise.allSettled([rateLimitPhase()]);
  await refusedOrDone;
  const t0 = performance.now();
  const results = await Promise.allSettled(perClient.map((mine, c) => client(c, mine)));
  stats.seconds = (performance.now() - t0) / 1000;
  const rateLimited = await burstRun;
  const failed = [...results, ...rateLimited].filter((r) => r.status === "rejected");
  if (failed.length > 0) {
    throw failed[0].reason instanceof Failure ? failed[0].reason : new Failure(`a client crashed: ${failed[0].reason?.stack ?? failed[0].reason}`);
  }
  stats.load = loadStats;
  stats.attempts = loadStats.attempts + burstStats.attempts;
  stats.eventsSent = loadStats.eventsSent + burstStats.eventsSent;
  stats.burst = { requestsUntilRefused: burstStats.refused, seconds: rateLimited[0].value };
  if (burstStats.refused === null && !opts.queue) {
    problem(`one token sent ${burstStats.attempts} requests (limit ${burst.limit} per ${burst.period} s) and was never refused: the per-token rate limit is not enforced`);
  }
  return { stats, acked, abortedKeys, problems };
}

// ---- checks after the load -------------------------------------------------------------------

function compareMaps(label, expected, actual, problem) {
  const keys = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  let bad = 0;
  for (const k of keys) {
    const e = expected.get(k) ?? 0;
    const a = actual.get(k) ?? 0;
    if (e !== a && ++bad <= 5) problem(`${label} ${k}: expected ${e}, API says ${a}`);
  }
  if (bad > 5) problem(`${label}: ${bad} keys differ in all`);
  return bad === 0;
}

async function checkAnalytics({ base, token, expect, slugs, today, phase, problem }) {
  const summary = [];
  for (const slug of slugs) {
    const x = expect.perOrg.get(slug);
    const query = `start_date=${expect.earliestDate}&end_date=${today}`;
    const get = async (path) => {
      const res = await fetch(`${base}/api/organizations/${slug}/analytics/${path}?${query}`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      if (res.status !== 200) throw new Failure(`${phase}: GET …/${slug}/analytics/${path} answered ${res.status}: ${text.slice(0, 500)}`);
      return JSON.parse(text);
    };
    const trends = await get("login-trends");
    const providers = await get("logins-by-provider");
    const trendTotal = trends.reduce((s, r) => s + r.count, 0);
    const providerTotal = providers.reduce((s, r) => s + r.count, 0);
    if (trendTotal !== x.successes) problem(`${phase}: ${slug} login-trends sum ${trendTotal} ≠ ${x.successes} unique successful events`);
    if (providerTotal !== x.successes) problem(`${phase}: ${slug} logins-by-provider sum ${providerTotal} ≠ ${x.successes} unique successful events`);
    compareMaps(`${phase}: ${slug} login-trends day`, x.days, new Map(trends.map((r) => [r.date, r.count])), problem);
    compareMaps(`${phase}: ${slug} logins-by-provider`, x.providers, new Map(providers.map((r) => [r.provider, r.count])), problem);
    summary.push({ slug, trendTotal, days: trends.length, providerTotal });
  }
  return summary;
}

const STORED_SQL = [
  `SELECT o.slug AS org, COUNT(*) AS events, COUNT(DISTINCT e.event_id) AS ids, SUM(e.outcome = 'success') AS successes,
     SUM(i.identity_type = 'machine') AS machine_events, SUM(e.created_at % 1000000007) AS created_sum
   FROM login_events e JOIN organizations o ON o.id = e.org_id JOIN identities i ON i.id = e.identity_id
   GROUP BY o.slug ORDER BY o.slug`,
  "SELECT o.slug AS org, COUNT(*) AS n FROM identities i JOIN organizations o ON o.id = i.org_id GROUP BY o.slug",
  "SELECT o.slug AS org, COUNT(*) AS n FROM services s JOIN organizations o ON o.id = s.org_id GROUP BY o.slug",
  "SELECT COUNT(*) AS n FROM organizations",
];

function checkStored(persistTo, expect, slugs, problem) {
  const [events, identities, services, orgCounts] = d1Query(persistTo, STORED_SQL);
  const orgCount = orgCounts.reduce((sum, r) => sum + r.n, 0);
  // sharded: every database holds some of the organizations, each organization exactly one database
  if (opts.shards > 1) {
    const perDatabase = orgCounts.map((r) => r.n);
    if (perDatabase.some((n) => n === 0)) problem(`stored: organizations per database ${perDatabase.join("/")}: the load did not spread over every database`);
    if (new Set(events.map((r) => r.org)).size !== events.length) problem("stored: an organization's events are in more than one database");
  }
  const bySlug = new Map(events.map((r) => [r.org, r]));
  const identitiesBySlug = new Map(identities.map((r) => [r.org, r.n]));
  const servicesBySlug = new Map(services.map((r) => [r.org, r.n]));
  if (orgCount !== slugs.length) problem(`stored: ${orgCount} organizations, expected ${slugs.length}`);
  let total = 0;
  const rows = [];
  for (const slug of slugs) {
    const x = expect.perOrg.get(slug);
    const s = bySlug.get(slug) ?? { events: 0, ids: 0, successes: 0, machine_events: 0, created_sum: 0 };
    total += s.events;
    rows.push({ slug, stored: s.events, unique: x.events });
    const same = (what, got, want) => got !== want && problem(`stored: ${slug} ${what} ${got}, expected ${want}`);
    same("events", s.events, x.events);
    same("distinct event ids", s.ids, x.events);
    same("successful events", s.successes, x.successes);
    same("machine events", s.machine_events, x.machineEvents);
    same("created_at checksum", s.created_sum, x.createdSum);
    same("identities", identitiesBySlug.get(slug) ?? 0, x.identities.size);
    same("services", servicesBySlug.get(slug) ?? 0, x.services.size);
  }
  return { total, rows };
}

/**
 * Summed over the databases (a database's watermark never passes its max(seq), so the sums are
 * equal only when each pair is). `dirty`: the dirty days the rollup owes, up to today (later ones
 * wait until they come).
 */
function rollupState(persistTo) {
  const today = Math.floor(Date.now() / DAY_MS);
  const [rows] = d1Query(persistTo, [
    `SELECT (SELECT COUNT(*) FROM dirty_days WHERE day <= ${today}) AS dirty,
       (SELECT value FROM rollup_state WHERE key = 'events_watermark') AS watermark,
       (SELECT COALESCE(MAX(seq), 0) FROM login_events) AS max_seq`,
  ]);
  return rows.reduce((sum, r) => ({ dirty: sum.dirty + r.dirty, watermark: sum.watermark + (r.watermark ?? 0), max_seq: sum.max_seq + r.max_seq }));
}

// ---- main ------------------------------------------------------------------------------------

const tmp = mkdtempSync(join(tmpdir(), "loginpulse-load-"));
const persistTo = join(tmp, "state");
const varsFile = join(tmp, "load.vars");
let server = null;
let snapshot = null;
let exitCode = 0;

async function cleanup() {
  if (server) {
    const s = server;
    server = null;
    await s.stop().catch(() => {});
  }
  if (opts.keep) console.log(`--keep: temp dir kept at ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    console.error(`load-test: ${signal}, stopping`);
    cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}

try {
  // 1. data first (cheap), so "now" is fixed before anything is sent
  const now = Date.now();
  const generated = generateUniverse({ count: opts.events, orgs: opts.orgs, seed: opts.seed, now });
  const universe = generated.events;
  // an organization exists once it has an event: tiny runs may leave some without any
  const slugs = generated.slugs.filter((slug) => universe.some((e) => e.org === slug));
  const expect = expectations(slugs, universe);
  // the rate-limit phase's pool: the last events of the universe, enough to outlast two windows
  const rate = { ...ingestRateLimit(join(ROOT, "wrangler.toml")), limit: LOAD_TEST_RATE_LIMIT };
  const poolSize = Math.min(3 * rate.limit, Math.floor(universe.length / 2));
  const pool = Array.from({ length: poolSize }, (_, k) => universe.length - poolSize + k);
  const requests = planRequests(universe.slice(0, universe.length - poolSize), { clients: opts.clients, seed: opts.seed });
  const uniqueKeys = new Set(universe.map(keyOf));
  if (uniqueKeys.size !== universe.length) throw new Failure(`generator bug: ${universe.length - uniqueKeys.size} repeated (org, id)`);
  log(
    `universe: ${fmt(universe.length)} unique events over ${slugs.length} orgs (seed ${opts.seed}), ${expect.earliestDate}..${dateOf(now)}; ` +
      `${requests.length} planned requests for ${opts.clients} clients`,
  );

  // 2. fresh D1, keys, wrangler dev
  const signer = await throwawaySigner("load", "1h");
  writeSignerVars(varsFile, signer, "scripts/load-test.mjs");
  const { mint } = signer;
  // a frozen copy of src/, migrations and wrangler.toml: edits made meanwhile cannot reload the worker mid-run
  snapshot = snapshotSources(ROOT, join(tmp, "snapshot"));
  if (opts.queue) appendFileSync(snapshot.config, QUEUES_TOML);
  if (opts.shards > 1) appendFileSync(snapshot.config, shardsToml(opts.shards));
  lowerIngestRateLimit(snapshot.config, LOAD_TEST_RATE_LIMIT);
  if (ingestRateLimit(snapshot.config).limit !== LOAD_TEST_RATE_LIMIT) throw new Failure("the tested wrangler.toml did not take the lowered rate limit");
  log(`sources frozen in ${snapshot.dir} (git ${snapshot.gitHead}${snapshot.gitDirtySrc ? " + uncommitted changes" : ""}, src ${snapshot.srcHash})`);
  for (const binding of shardBindings(opts.shards)) {
    wrangler(snapshot.dir, ["d1", "migrations", "apply", binding, "--local", "--config", snapshot.config, "--persist-to", persistTo]);
  }
  log(`migrations applied to ${persistTo}`);
  const port = await freePort();
  server = await startWrangler({ node: process.execPath, wrangler: WRANGLER, cwd: snapshot.dir, config: snapshot.config, persistTo, varsFile, port, log, extraArgs: ["--test-scheduled"] });
  const base = server.base;
  const tokens = await Promise.all(Array.from({ length: opts.clients }, (_, c) => mint({ sub: `load-client-${c + 1}`, scope: "events:write" })));
  const platformToken = await mint({ sub: "load-platform-owner", is_platform_owner: true });

  // 3. load
  log(`load: the rate-limit token until its first 429, then ${opts.clients} clients posting …`);
  const burst = { ...rate, pool, token: await mint({ sub: "load-burst", scope: "events:write" }) };
  const { stats, acked, abortedKeys, problems } = await runLoad({ base, universe, requests, tokens, burst });
  const problem = (msg) => {
    problems.push(msg);
    if (problems.length <= 10) console.error(`  MISMATCH ${msg}`);
  };
  log(`load done in ${stats.seconds.toFixed(2)} s; the rate-limit phase (the load started at its first 429) in ${stats.burst.seconds.toFixed(2)} s`);

  // 4a. acknowledgement and response accounting
  const unique = uniqueKeys.size;
  const missing = [...uniqueKeys].filter((k) => !acked.has(k));
  if (missing.length > 0) problem(`${missing.length} events were never acknowledged, e.g. ${missing.slice(0, 3).map((k) => k.replace("\u0000", "/")).join(", ")}`);
  if (!opts.queue) {
    if (stats.accepted + stats.duplicates !== stats.eventsSeen) problem(`accepted ${stats.accepted} + duplicates ${stats.duplicates} ≠ ${stats.eventsSeen} events in answered requests`);
    if (stats.accepted > unique) problem(`accepted ${stats.accepted} > ${unique} unique events: double count`);
    // accepted can fall short of unique only by events an aborted attempt may have stored unseen
    if (unique - stats.accepted > abortedKeys.size) problem(`accepted ${stats.accepted} is ${unique - stats.accepted} short of ${unique} unique events, more than the ${abortedKeys.size} events of aborted attempts`);
  } else {
    // 4a'. the consumer drains the queue: every unique event stored, nothing dead-lettered
    const d0 = performance.now();
    for (;;) {
      const [rows] = d1Query(persistTo, ["SELECT (SELECT COUNT(*) FROM login_events) AS stored, (SELECT COUNT(*) FROM dead_letters) AS dead"]);
      const q = rows.reduce((sum, r) => ({ stored: sum.stored + r.stored, dead: sum.dead + r.dead }));
      if (q.dead > 0) problem(`${q.dead} messages were dead-lettered`);
      if (q.stored >= unique || q.dead > 0) break;
      if (performance.now() - d0 > DRAIN_DEADLINE_MS) throw new Failure(`queue not drained after ${DRAIN_DEADLINE_MS / 1000} s: ${q.stored} of ${unique} events stored`);
      await new Promise((r) => setTimeout(r, 500));
    }
    log(`queue drained ${((performance.now() - d0) / 1000).toFixed(1)} s after the load`);
  }

  // 4b. analytics through the live tail (nothing folded yet)
  const today = dateOf(Date.now());
  await checkAnalytics({ base, token: platformToken, expect, slugs, today, phase: "before rollup", problem });
  log("analytics before the rollup (live tail) checked");

  // 4c. the */15 rollup until everything is folded and no day is dirty
  const cron = encodeURIComponent(ROLLUP_CRON).replace(/%20/g, "+");
  let state;
  let runs = 0;
  for (;;) {
    const res = await fetch(`${base}/__scheduled?cron=${cron}`);
    const text = await res.text();
    if (!res.ok) throw new Failure(`GET /__scheduled answered ${res.status}: ${text.slice(0, 500)}`);
    runs++;
    state = rollupState(persistTo);
    if (state.dirty === 0 && state.watermark === state.max_seq) break;
    if (runs >= MAX_ROLLUP_RUNS) throw new Failure(`rollup incomplete after ${runs} cron runs: ${JSON.stringify(state)}`);
  }
  log(`rollup complete after ${runs} cron run(s): watermark ${state.watermark} = max(seq), no dirty day up to today`);
  const after = await checkAnalytics({ base, token: platformToken, expect, slugs, today, phase: "after rollup", problem });

  // 4d. what is stored, straight from D1
  const stored = checkStored(persistTo, expect, slugs, problem);
  if (stored.total !== unique) problem(`stored ${stored.total} events, expected exactly ${unique}`);
  if (state.max_seq < stored.total) problem(`max(seq) ${state.max_seq} < stored ${stored.total}`);

  // 5. report
  const s = stats;
  const lines = [
    "",
    `loginpulse load test${opts.queue ? " (queue-buffered ingest)" : ""}${opts.shards > 1 ? ` (${opts.shards} databases)` : ""} — seed ${opts.seed}, ${opts.clients} clients, ${opts.orgs} orgs; ` +
      `sources git ${snapshot.gitHead}${snapshot.gitDirtySrc ? "+uncommitted" : ""} src ${snapshot.srcHash}${sourcesChanged(ROOT, snapshot) ? " (src/ changed during the run; the frozen copy was tested)" : ""}`,
    `  events sent          ${fmt(s.eventsSent)} (all attempts; ${fmt(s.eventsSeen)} in answered requests: ${fmt(s.copies.cross)} cross-batch copies, ${fmt(s.copies.crossClient)} of them cross-client, ${fmt(s.copies.intra)} in-batch repeats, plus re-sends)`,
    `  unique events        ${fmt(unique)}`,
    `  acknowledged         ${fmt(acked.size)}`,
    opts.queue
      ? `  queued               ${fmt(s.eventsSeen)} events in ${fmt(s.responses202)} answered requests (202 queued; stored by the consumer)`
      : `  accepted/duplicates  ${fmt(s.accepted)} / ${fmt(s.duplicates)} (answered requests; ${fmt(abortedKeys.size)} events were in aborted attempts)`,
    `  stored               ${fmt(stored.total)} (${stored.rows.map((r) => `${r.slug} ${fmt(r.stored)}/${fmt(r.unique)}`).join(", ")})`,
    `  logins (after rollup) ${after.map((a) => `${a.slug} ${fmt(a.trendTotal)} over ${a.days} days`).join(", ")}`,
    `  requests             ${fmt(s.attempts)} HTTP (${fmt(s.requestsPlanned)} planned bodies, ${fmt(s.responses202)} × 202)`,
    `  retries              ${fmt(s.retries)} after a 202 (lost response), ${fmt(s.abortRetries)} after an abort`,
    `  aborts               ${fmt(s.aborts)}`,
    `  429 / 503            ${fmt(s.throttled429)} / ${fmt(s.unavailable503)} (waited ${(s.waitedMs / 1000).toFixed(1)} s)`,
    opts.queue
      ? `  rate limit           not exercised with --queue (the same middleware; the direct run proves it)`
      : `  rate limit           one token ${s.burst.requestsUntilRefused === null ? "never refused" : `refused (429) after ${fmt(s.burst.requestsUntilRefused)} requests`} (limit ${fmt(rate.limit)} per ${rate.period} s); phase ${s.burst.seconds.toFixed(1)} s, ${fmt(pool.length)} events`,
    `  load phase           ${s.seconds.toFixed(2)} s: ${fmt(s.load.eventsSent / s.seconds)} events/s, ${(s.load.attempts / s.seconds).toFixed(1)} requests/s held (${opts.clients} clients; the rate-limit phase's requests not counted)`,
    `  rollup               ${runs} cron run(s)`,
    `  total                ${((performance.now() - started) / 1000).toFixed(1)} s`,
    "",
  ];
  console.log(lines.join("\n"));
  if (problems.length > 0) {
    console.error(`FAIL: ${problems.length} mismatch(es):\n${problems.slice(0, 20).map((p) => `  - ${p}`).join("\n")}`);
    exitCode = 1;
  } else {
    console.log("PASS: no loss, no double count under load");
  }
} catch (err) {
  console.error(`\nFAIL: ${err instanceof Failure ? err.message : err?.stack ?? err}`);
  if (server) console.error(`--- wrangler output (tail) ---\n${server.output().slice(-3000)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
