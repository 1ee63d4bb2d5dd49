import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ChunkSizer, runRollup, type RollupOptions } from "../src/rollup/rollup";
import { CRON_ROLLUP } from "../src/scheduled";
import worker from "../src/index";
import { expectErrorBody as expectContractBody } from "./contract";
import { applicationTables, dbState, snapshotDatabases } from "./db-state";
import { D1_UNAVAILABLE, FAULT_MODES, FaultyD1, type CallKind, type Fault, type FaultMode } from "./faulty-d1";
import { addDays, allD1, countEverywhere, DAY_MS, dueDirtyDays, type EventInput, ingest, ingestToken, orgD1, orgToken, placedLike, platformToken, requestWith, rollup, resetDatabases, rowsEverywhere, SHARDED, todayDate, token } from "./helpers";
import { everyDatabase, jobDatabases } from "../src/db/shards";
import type { Bindings } from "../src/env";
import { prepareRouteData } from "./route-data";
import { initFor, pathFor, servedRoutes, type ServedRoute } from "./routes";

/**
 * Fault injection: D1 failing on any one call of a request or a cron run.
 *
 *   write  a failed ingest answers 503 + Retry-After and stores nothing partial; the retry stores each id once
 *   read   a failed read answers 503 (500 for a non-transient error), never a 200 with partial data
 *   cron   a run that dies at any batch leaves tables whose answers are exact, and the next run converges
 *
 * The app is called with `{ ...env, ...faulty.bindings }`, so every database access of the request
 * or run goes through test/faulty-d1.ts (calls are numbered per database, so a fault lands on the
 * same call whatever order databases answer in when the suite runs sharded); the tables are
 * checked through the real bindings.
 */

// ---- plumbing -------------------------------------------------------------------------------

const TODAY = todayDate();
/** First day of the datasets (~40 days of activity up to a week ago). */
const BASE = addDays(TODAY, -45);
const READ_START = addDays(BASE, -3);

/** The bindings that route every database access through `db` (and its siblings), or the real ones. */
const bindingsOf = (db: D1Database) => (db instanceof FaultyD1 ? db.bindings : { DB: db });

const call = (db: D1Database, path: string, init: RequestInit & { token?: string } = {}) => requestWith(bindingsOf(db), path, init);

/** The rollup in every database, as the cron runs it. */
const rollupEverywhere = (db: D1Database, options?: RollupOptions) => everyDatabase(jobDatabases({ ...env, ...bindingsOf(db) } as Bindings), (d) => runRollup(d, options));

async function runScheduled(db: D1Database): Promise<void> {
  const ctx = createExecutionContext();
  try {
    await worker.scheduled(createScheduledController({ cron: CRON_ROLLUP, scheduledTime: Date.now() }), { ...env, ...bindingsOf(db) }, ctx);
  } finally {
    await waitOnExecutionContext(ctx);
  }
}

/** The contract's error (test/contract.ts), and nothing of D1's internals in it. */
async function expectErrorBody(res: Response, status: number, code: string, label: string) {
  const { text } = await expectContractBody(res, status, code, label);
  expect(text, label).not.toMatch(/D1_ERROR|SQLITE|no such column/);
}

/** Modes that apply to a call: "midway" only to batches (a single statement is atomic by itself). */
const modesFor = (kind: CallKind): FaultMode[] => FAULT_MODES.filter((m) => m !== "midway" || kind === "batch");

type NumberedFault = Fault & { call: number; database: string };

/** Every (database, call, mode) of a run whose fault-free pass is `counter`. */
const faultCases = (counter: FaultyD1): NumberedFault[] =>
  counter.everyCall.flatMap((c) => modesFor(c.kind).map((mode) => ({ database: c.database, call: c.call, mode })));

/** "mode call k/n" (and the database, when there are several). */
const describeFault = (fault: NumberedFault, counter: FaultyD1) =>
  `${fault.mode} call ${fault.call}/${counter.callsOf(fault.database).length}${SHARDED ? ` of ${fault.database}` : ""}`;

function rng(seed: number) {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** `tag` (or tag + k): a prefix whose `<prefix>-<org>` organizations land in the databases of `like`'s, so a replayed run makes the same calls. */
const prefixPlacedLike = (tag: string, like: string, orgs: string[]) =>
  placedLike((k) => orgs.map((o) => `${tag}${k || ""}-${o}`), orgs.map((o) => `${like}-${o}`))[0].slice(0, -`-${orgs[0]}`.length);

const relabel = (events: EventInput[], prefix: string) => events.map((e) => ({ ...e, org: `${prefix}-${e.org}` }));

const count = countEverywhere;

/** The request paths a read route is exercised with: a range covering the datasets; variants add identity types. */
function readPaths(route: ServedRoute, org: string, variants = false): string[] {
  const params = new URLSearchParams();
  const names = new Set(route.query.map((q) => q.name));
  if (names.has("start_date")) params.set("start_date", READ_START);
  if (names.has("end_date")) params.set("end_date", TODAY);
  if (names.has("limit")) params.set("limit", "1000");
  const base = `${pathFor(route, org)}?${params}`;
  return variants && names.has("identity_type") ? [base, `${base}&identity_type=human`, `${base}&identity_type=machine`] : [base];
}

const readRoutes = () => servedRoutes().filter((r) => r.method === "GET" && (r.kind === "org" || r.kind === "platform"));

// Each 503 logs a warning and each 500 an error; keep the output readable, and check they are logged.
const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
const error = vi.spyOn(console, "error").mockImplementation(() => {});
const log = vi.spyOn(console, "log").mockImplementation(() => {});
afterAll(() => {
  warn.mockRestore();
  error.mockRestore();
  log.mockRestore();
});

let platform: string;
beforeAll(async () => {
  platform = await platformToken();
});

// ---- write path -----------------------------------------------------------------------------

describe("write path: POST /api/events under D1 faults", () => {
  // 50 events for 2 organizations, 45 distinct ids (5 sent twice in the batch); every org,
  // service and identity is new, so one request writes all of them.
  const pick = rng(1);
  const unique: EventInput[] = Array.from({ length: 45 }, (_, i) => ({
    id: `w-${i}`,
    org: i % 2 === 0 ? "a" : "b",
    user_id: `user-${pick(12)}`,
    identity_type: pick(5) === 0 ? "machine" : "human",
    service_id: `svc-${pick(4)}`,
    service_name: `Service ${i % 3}`,
    provider: ["github", "google", "password"][pick(3)],
    outcome: pick(6) === 0 ? "failure" : "success",
    created_at: new Date(Date.parse(`${BASE}T00:00:00Z`) + pick(40 * 86_400) * 1000).toISOString(),
  }));
  const batch = [...unique, ...unique.slice(10, 15)];
  let writer: string;

  const post = (db: D1Database, prefix: string) =>
    call(db, "/api/events", {
      method: "POST",
      token: writer,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ events: relabel(batch, prefix) }),
    });

  /** (org, event id) pairs stored for this prefix's organizations, each once. */
  async function stored(prefix: string) {
    const rows = await rowsEverywhere<{ k: string }>(
      `SELECT o.slug || '/' || e.event_id AS k FROM login_events e JOIN organizations o ON o.id = e.org_id WHERE o.slug LIKE ?1`,
      `${prefix}-%`,
    );
    return rows.map((r) => r.k).sort();
  }
  const expected = (prefix: string) => relabel(unique, prefix).map((e) => `${e.org}/${e.id}`).sort();

  beforeAll(async () => {
    writer = await ingestToken();
  });

  it("a fault at any call, in any mode: 503 + Retry-After, nothing partial, the retry stores each id once", async () => {
    const counter = new FaultyD1(env.DB);
    const ok = await post(counter, "w0");
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ accepted: 45, duplicates: 5 });
    expect(counter.everyCall.length).toBeGreaterThanOrEqual(1);
    expect(await stored("w0")).toEqual(expected("w0"));

    const cases = faultCases(counter);
    for (const fault of cases) {
      const tag = `w${fault.call}-${fault.mode}-${fault.database.toLowerCase().replaceAll("_", "")}`;
      const prefix = prefixPlacedLike(tag, "w0", ["a", "b"]);
      const label = `ingest, ${describeFault(fault, counter)}`;
      const before = await dbState();
      const faulty = new FaultyD1(env.DB, fault);
      warn.mockClear();
      await expectErrorBody(await post(faulty, prefix), 503, "DATABASE_UNAVAILABLE", label);
      expect(faulty.fired, label).toBe(true);
      expect(warn, label).toHaveBeenCalledWith(expect.stringMatching(D1_UNAVAILABLE));

      // All or nothing per database: "before" and "midway" store nothing of the failed call's
      // database; "after" lost the answer of a call that ran, so that database's events are
      // stored if the call committed them (always, for its last call). With one database that
      // is the whole request; sharded, the other database's events may be stored already.
      const perOrg = new Map<string, string[]>();
      for (const k of await stored(prefix)) perOrg.set(k.split("/")[0], [...(perOrg.get(k.split("/")[0]) ?? []), k]);
      for (const [org, keys] of perOrg) expect(keys, `${label}: ${org} all or nothing`).toEqual(expected(prefix).filter((k) => k.startsWith(`${org}/`)));
      const storedBefore = [...perOrg.values()].reduce((n, keys) => n + keys.length, 0);
      if (!SHARDED) {
        const committed = fault.mode === "after" && (fault.call === counter.calls.length || storedBefore > 0);
        if (committed) expect(storedBefore, `${label}: all stored`).toBe(45);
        else expect(await dbState(), `${label}: nothing stored`).toEqual(before);
      }
      const retry = await post(env.DB, prefix);
      expect(retry.status, label).toBe(202);
      // The batch holds 45 distinct ids (50 events): the retry stores exactly the ones missing.
      const accepted = 45 - storedBefore;
      expect(await retry.json(), label).toEqual({ accepted, duplicates: 50 - accepted });
      expect(await stored(prefix), label).toEqual(expected(prefix));
      const again = await post(env.DB, prefix);
      expect(await again.json(), label).toEqual({ accepted: 0, duplicates: 50 });
    }
    expect(cases.length).toBeGreaterThanOrEqual(3);
  });

  it("a non-transient D1 error (a bug, not an outage) is a 500 in the contract shape, and stores nothing", async () => {
    const before = await dbState();
    error.mockClear();
    const res = await post(new FaultyD1(env.DB, { when: () => true, mode: "before", error: new Error("D1_ERROR: no such column: org_slug: SQLITE_ERROR") }), "w-bug");
    await expectErrorBody(res, 500, "INTERNAL_ERROR", "ingest, no such column");
    expect(error).toHaveBeenCalled();
    expect(await dbState()).toEqual(before);
  });
});

// ---- governance writes ----------------------------------------------------------------------

describe("governance writes under D1 faults: settings and the identity inventory", () => {
  const writes = () => servedRoutes().filter((r) => r.kind === "org-admin" || r.kind === "inventory");

  /** The organization's governance state on natural keys, without write times. */
  async function governanceState(org: string) {
    const d1 = await orgD1(org);
    const settings = await d1.prepare(
      `SELECT s.human_thresholds, s.machine_thresholds, s.report_identity_types, s.webhook_url, s.webhook_secret, s.previous_webhook_secret, s.webhook_disabled_at
       FROM org_settings s JOIN organizations o ON o.id = s.org_id WHERE o.slug = ?1`,
    ).bind(org).all();
    const inventory = await d1.prepare(
      `SELECT i.user_id, i.identity_type, v.display_name, v.owner, v.deprovisioned_at IS NOT NULL AS deprovisioned
       FROM identity_inventory v JOIN identities i ON i.id = v.identity_id JOIN organizations o ON o.id = v.org_id WHERE o.slug = ?1 ORDER BY 1, 2`,
    ).bind(org).all();
    return { settings: settings.results, inventory: inventory.results };
  }

  it("a fault at any call, in any mode: 503 + Retry-After, nothing partial; the retry leaves what a fault-free write leaves", async () => {
    const owner = await token({ claims: { is_platform_owner: true, scope: "inventory:write analytics:read" } });
    let cases = 0;
    for (const [w, route] of writes().entries()) {
      const fresh = async (org: string) => {
        expect(await ingest([{ id: `gw-${org}`, org, user_id: "u1", service_id: "web", provider: "github" }])).toEqual({ accepted: 1, duplicates: 0 });
        await prepareRouteData(org);
      };
      const write = (db: D1Database, org: string) => call(db, pathFor(route, org), initFor(route, org, owner));
      const reference = `gw${w}-ref`;
      await fresh(reference);
      const counter = new FaultyD1(env.DB);
      expect((await write(counter, reference)).status, route.label).toBe(route.okStatus);
      const expected = await governanceState(reference);
      for (const fault of faultCases(counter)) {
        const [org] = placedLike((k) => [`gw${w}-${fault.call}-${fault.mode}-${fault.database.toLowerCase().replaceAll("_", "")}${k || ""}`], [reference]);
        const label = `${route.label}, ${describeFault(fault, counter)}`;
        await fresh(org);
        const before = await dbState();
        const faulty = new FaultyD1(env.DB, fault);
        await expectErrorBody(await write(faulty, org), 503, "DATABASE_UNAVAILABLE", label);
        expect(faulty.fired, label).toBe(true);
        if (fault.mode !== "after") expect(await dbState(), `${label}: nothing stored`).toEqual(before);
        expect((await write(env.DB, org)).status, label).toBe(route.okStatus);
        expect(await governanceState(org), label).toEqual(expected);
        cases++;
      }
    }
    expect(cases).toBeGreaterThanOrEqual(writes().length * 2);
  });
});

// ---- shared dataset for reads and cron ------------------------------------------------------

/**
 * Phase A: 240 events of 3 organizations over days 10..39. Phase B, sent after A is rolled
 * up: late events (days 0..9, before the identities' known first logins), new identities,
 * more of the same days, and 10 of A's events again (duplicates). Shuffled, so seq order is
 * not time order.
 */
const CRON_ORGS = ["alpha", "beta", "gamma"];
const { phaseA, phaseB } = (() => {
  const pick = rng(42);
  const at = (day: number) => new Date(Date.parse(`${BASE}T00:00:00Z`) + day * DAY_MS + pick(86_400) * 1000).toISOString();
  const event = (id: string, org: string, user: number, day: number): EventInput => ({
    id,
    org,
    user_id: `u${user}`,
    identity_type: user >= 8 ? "machine" : "human",
    service_id: `svc-${pick(3)}`,
    ...(pick(2) === 0 ? { service_name: `Service ${pick(3)}` } : {}),
    provider: ["github", "google", "password"][pick(3)],
    outcome: pick(8) === 0 ? "failure" : "success",
    created_at: at(day),
  });
  const phaseA = Array.from({ length: 240 }, (_, i) => event(`a${i}`, CRON_ORGS[i % 3], pick(10), 10 + pick(30)));
  const phaseB = [
    ...Array.from({ length: 30 }, (_, i) => event(`late${i}`, CRON_ORGS[i % 3], pick(10), pick(10))),
    ...Array.from({ length: 30 }, (_, i) => event(`new${i}`, CRON_ORGS[i % 3], 10 + pick(3), pick(40))),
    ...Array.from({ length: 20 }, (_, i) => event(`more${i}`, CRON_ORGS[i % 3], pick(10), 10 + pick(30))),
    ...phaseA.slice(100, 110),
  ];
  for (let i = phaseB.length - 1; i > 0; i--) {
    const j = pick(i + 1);
    [phaseB[i], phaseB[j]] = [phaseB[j], phaseB[i]];
  }
  return { phaseA, phaseB };
})();

/** Phase A ingested and fully rolled up, phase B ingested: B is the unsealed tail. */
async function prepare(prefix: string) {
  expect(await ingest(relabel(phaseA, prefix))).toEqual({ accepted: 240, duplicates: 0 });
  expect((await rollup({ dayChunk: 1000 })).complete).toBe(true);
  expect(await ingest(relabel(phaseB, prefix))).toEqual({ accepted: 80, duplicates: 10 });
  // the sample inventory identity and today's reports, so every read route answers 200 (test/routes.ts)
  for (const org of CRON_ORGS) await prepareRouteData(`${prefix}-${org}`);
}

// ---- read path ------------------------------------------------------------------------------

describe("read path: every read route under D1 faults", () => {
  const ORG = "r-alpha";

  beforeAll(async () => {
    await prepare("r");
    // Part of the tail folded, not recomputed: reads combine sealed tables, dirty days and tail.
    await rollup({ eventChunk: 30, maxBatches: 2 });
  });

  it("a fault at any call of any read: 503 + Retry-After, never a 200 with partial data; a bug is a 500", async () => {
    const before = await dbState();
    const routes = readRoutes();
    expect(routes.filter((r) => r.kind === "org").length).toBeGreaterThan(0);
    expect(routes.filter((r) => r.kind === "platform").length).toBeGreaterThan(0);
    const orgReader = await orgToken(ORG);
    let cases = 0;
    for (const route of routes) {
      const token = route.kind === "org" ? orgReader : platform;
      const [path] = readPaths(route, ORG);
      const counter = new FaultyD1(env.DB);
      const res = await call(counter, path, { token });
      expect(res.status, path).toBe(200);
      const answer = await res.json();
      expect(counter.everyCall.length, `${path}: DB calls`).toBeGreaterThanOrEqual(1);
      // The wrapper is transparent: the same answer as straight from the binding.
      expect(await (await call(env.DB, path, { token })).json(), path).toEqual(answer);

      for (const fault of faultCases(counter)) {
        const label = `${route.label}, ${describeFault(fault, counter)}`;
        const faulty = new FaultyD1(env.DB, fault);
        await expectErrorBody(await call(faulty, path, { token }), 503, "DATABASE_UNAVAILABLE", label);
        expect(faulty.fired, label).toBe(true);
        cases++;
      }
      error.mockClear();
      const bug = new FaultyD1(env.DB, { when: () => true, mode: "before", error: new Error("D1_ERROR: no such column: org_slug: SQLITE_ERROR") });
      await expectErrorBody(await call(bug, path, { token }), 500, "INTERNAL_ERROR", `${route.label}, no such column`);
      expect(error, route.label).toHaveBeenCalled();
      // And once D1 is back, the same full answer.
      expect(await (await call(env.DB, path, { token })).json(), path).toEqual(answer);
    }
    expect(cases).toBeGreaterThanOrEqual(routes.length * 2);
    // Read faults (even "after" and "midway", which ran real batches) changed nothing.
    expect(await dbState()).toEqual(before);
  });
});

// ---- cron -----------------------------------------------------------------------------------

/** Small chunks: several fold and recompute batches per run, so a fault can land between them. */
const SMALL_CHUNKS: RollupOptions = { eventChunk: 30, dayChunk: 40 };

interface Runner {
  name: string;
  /** One run against `db`; rejects when the run fails. */
  run: (db: D1Database) => Promise<unknown>;
  /** Runs with the real binding until the rollup is complete. */
  finish: () => Promise<void>;
}

const runners: Runner[] = [
  {
    name: "runRollup with small chunks",
    run: (db) => rollupEverywhere(db, SMALL_CHUNKS),
    finish: async () => {
      for (let i = 0; ; i++) {
        expect(i, "runs to converge").toBeLessThan(3);
        if ((await rollup(SMALL_CHUNKS)).complete) return;
      }
    },
  },
  {
    name: "the */15 scheduled handler",
    run: runScheduled,
    finish: () => runScheduled(env.DB),
  },
];

/**
 * Every table with an org_id, for one organization's slugs, on natural keys: surrogate ids,
 * seq and receive times dropped; service ids as external ids, identity ids as user/type.
 */
async function derivedTables(prefix: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const d1 of allD1()) {
    for (const [table, rows] of Object.entries(await derivedTablesIn(d1, prefix))) out[table] = [...(out[table] ?? []), ...rows].sort();
  }
  return out;
}

/** `derivedTables` of one database (surrogate ids are per database). */
async function derivedTablesIn(d1: D1Database, prefix: string): Promise<Record<string, string[]>> {
  const all = await applicationTables(d1);
  const columns = await d1.batch(all.map((t) => d1.prepare(`PRAGMA table_info("${t}")`)));
  const tables = all.filter((_, i) => (columns[i].results as { name: string }[]).some((c) => c.name === "org_id"));
  const orgIds = (await d1.prepare("SELECT id, slug FROM organizations WHERE slug LIKE ?1").bind(`${prefix}-%`).all<{ id: number; slug: string }>()).results;
  const orgOf = new Map(orgIds.map((o) => [o.id, o.slug.slice(prefix.length + 1)]));
  const ids = [...orgOf.keys()].join(",");
  const services = new Map(
    (await d1.prepare(`SELECT id, external_id FROM services WHERE org_id IN (${ids})`).all<{ id: number; external_id: string }>()).results.map((s) => [s.id, s.external_id]),
  );
  const identities = new Map(
    (await d1.prepare(`SELECT id, user_id, identity_type FROM identities WHERE org_id IN (${ids})`).all<{ id: number; user_id: string; identity_type: string }>()).results.map(
      (i) => [i.id, `${i.user_id}/${i.identity_type}`],
    ),
  );
  const dumps = await d1.batch(tables.map((t) => d1.prepare(`SELECT * FROM "${t}" WHERE org_id IN (${ids})`)));
  const out: Record<string, string[]> = {};
  tables.forEach((t, i) => {
    out[t] = (dumps[i].results as Record<string, unknown>[])
      .map((row) => {
        const natural: Record<string, unknown> = {};
        for (const [column, value] of Object.entries(row)) {
          if (column === "id" || column === "seq" || column === "received_at") continue;
          if (column === "org_id") natural.org = orgOf.get(value as number);
          else if (column.endsWith("service_id")) natural[column] = value === null ? null : (services.get(value as number) ?? `?${value}`);
          else if (column === "identity_id") natural[column] = identities.get(value as number) ?? `?${value}`;
          else natural[column] = value;
        }
        return JSON.stringify(natural);
      })
      .sort();
  });
  return out;
}

/** Sealed counts equal the folded events of these organizations, each counted once. */
async function expectFoldedOnce(prefix: string, label: string) {
  const orgs = `(SELECT id FROM organizations WHERE slug LIKE '${prefix}-%')`;
  const watermark = `(SELECT value FROM rollup_state WHERE key = 'events_watermark')`;
  // Per database: each has its own events, watermark and rollups.
  const parts = await rowsEverywhere<Record<string, number>>(
    `SELECT
      (SELECT COUNT(*) FROM login_events WHERE org_id IN ${orgs} AND seq <= ${watermark} AND outcome = 'success') AS successes,
      (SELECT COUNT(*) FROM login_events WHERE org_id IN ${orgs} AND seq <= ${watermark} AND outcome = 'failure') AS failures,
      (SELECT COALESCE(SUM(logins), 0) FROM daily_activity WHERE org_id IN ${orgs}) AS logins,
      (SELECT COALESCE(SUM(failures), 0) FROM daily_activity WHERE org_id IN ${orgs}) AS failed,
      (SELECT COALESCE(SUM(login_count), 0) FROM identities WHERE org_id IN ${orgs}) AS login_count`,
  );
  for (const folded of parts) {
    expect({ logins: folded.logins, failed: folded.failed, login_count: folded.login_count }, label).toEqual({
      logins: folded.successes,
      failed: folded.failures,
      login_count: folded.successes,
    });
  }
  return { successes: parts.reduce((n, p) => n + p.successes, 0), failures: parts.reduce((n, p) => n + p.failures, 0) };
}

/** Every org read route for each of the dataset's organizations; identity-type variants for the first. */
async function orgAnswers(prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const route of readRoutes().filter((r) => r.kind === "org")) {
    for (const org of CRON_ORGS) {
      for (const path of readPaths(route, `${prefix}-${org}`, org === CRON_ORGS[0])) {
        const res = await call(env.DB, path, { token: platform });
        out[path.replace(`${prefix}-${org}`, org)] = { status: res.status, body: await res.json() };
      }
    }
  }
  return out;
}

async function platformAnswers(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const route of readRoutes().filter((r) => r.kind === "platform")) {
    for (const path of readPaths(route, "")) {
      const res = await call(env.DB, path, { token: platform });
      out[path] = { status: res.status, body: await res.json() };
    }
  }
  return out;
}

/**
 * What an organization's reads can depend on, for this prefix's organizations on natural keys:
 * every table with an org_id (derivedTables, raw events included) and, per database, which of
 * their events are folded (seq at or below that database's watermark: the rest is the live tail).
 */
async function stateKey(prefix: string): Promise<string> {
  const folded = await rowsEverywhere<{ k: string }>(
    `SELECT o.slug || '/' || e.event_id AS k FROM login_events e JOIN organizations o ON o.id = e.org_id
     WHERE o.slug LIKE ?1 AND e.seq <= (SELECT value FROM rollup_state WHERE key = 'events_watermark')`,
    `${prefix}-%`,
  );
  const natural = (k: string) => k.slice(prefix.length + 1);
  return JSON.stringify([await derivedTables(prefix), folded.map((r) => natural(r.k)).sort()]);
}

async function expectConverged(prefix: string, reference: Record<string, string[]>, label: string) {
  expect(await derivedTables(prefix), label).toEqual(reference);
  const folded = await expectFoldedOnce(prefix, label);
  expect(folded.successes + folded.failures, `${label}: every event folded`).toBe(
    await count(`SELECT COUNT(*) AS n FROM login_events WHERE org_id IN (SELECT id FROM organizations WHERE slug LIKE ?1)`, `${prefix}-%`),
  );
  expect(await dueDirtyDays(), `${label}: dirty days left`).toBe(0);
  // in every database
  const gaps = await rowsEverywhere<{ n: number }>("SELECT (SELECT value FROM rollup_state WHERE key = 'events_watermark') - (SELECT MAX(seq) FROM login_events) AS n");
  expect(gaps, `${label}: watermark = max seq`).toEqual(gaps.map(() => ({ n: 0 })));
}

describe("cron: a rollup run that dies at any call", () => {
  let referenceTables: Record<string, string[]>;
  let referenceAnswers: Record<string, unknown>;

  beforeAll(async () => {
    // Reference: the same dataset, rolled up with no fault (answers read once sealed).
    await prepare("ref");
    expect((await rollup()).complete).toBe(true);
    referenceTables = await derivedTables("ref");
    referenceAnswers = await orgAnswers("ref");
    // Sanity: the dataset has late events, machine identities, failures and a few organizations.
    expect(referenceTables.daily_activity.length).toBeGreaterThan(100);
    const statuses = Object.values(referenceAnswers).map((a) => (a as { status: number }).status);
    expect(new Set(statuses)).toEqual(new Set([200]));
  });

  for (const runner of runners) {
    it(`${runner.name}: the run rejects, answers stay exact, the next run converges`, async () => {
      // The state every case starts from, alone in the databases: the dataset, its tail unsealed
      // (the platform reads read it alone). Built once, put back before each case.
      const prefix = `c-${runners.indexOf(runner)}`;
      await resetDatabases();
      await prepare(prefix);
      const restore = await snapshotDatabases();
      const start = await dbState();
      const platformBefore = await platformAnswers();

      // Fault-free pass on that state: how many calls a run makes, and of which kind.
      const counter = new FaultyD1(env.DB);
      await runner.run(counter);
      expect(counter.everyCall.length).toBeGreaterThanOrEqual(3);
      expect(await derivedTables(prefix)).toEqual(referenceTables);
      await restore();
      expect(await dbState(), "restored: every row as it was").toEqual(start);

      const cases = faultCases(counter);
      const checkedStates = new Set<string>();
      for (const fault of cases) {
        const label = `${runner.name}, ${describeFault(fault, counter)} (${counter.callsOf(fault.database)[fault.call - 1].kind})`;
        await restore();

        const faulty = new FaultyD1(env.DB, fault);
        // The run fails loudly (for the scheduled handler: Cloudflare records a failed invocation).
        const outcome = await runner.run(faulty).then(
          () => "the run resolved",
          (err: Error) => err.message,
        );
        expect(outcome, label).toMatch(D1_UNAVAILABLE);
        expect(faulty.fired, label).toBe(true);
        expect(faulty.callsOf(fault.database).length, `${label}: the run stops at the fault`).toBe(fault.call);

        // (a) Whatever the run left: consistent tables, so every answer is exact. A read is a
        // function of the stored state, and most faults leave a state another fault left too (a
        // batch failing before or midway leaves the previous batch's state, one failing after it
        // leaves the next one's): the organizations' reads are compared once per distinct state.
        await expectFoldedOnce(prefix, label);
        const state = await stateKey(prefix);
        if (!checkedStates.has(state)) {
          expect(await orgAnswers(prefix), label).toEqual(referenceAnswers);
          checkedStates.add(state);
        }
        expect(await platformAnswers(), label).toEqual(platformBefore);

        // (b) The next runs converge to what a run without faults computes.
        await runner.finish();
        await expectConverged(prefix, referenceTables, label);
      }
      expect(cases.length).toBeGreaterThanOrEqual(counter.everyCall.length);
      // the faults did leave different states (each read against the reference)
      expect(checkedStates.size).toBeGreaterThan(2);
    }, 300_000); // about 60 fault cases, each a fresh dataset: half a minute alone, more with the other project's files on the other core
  }

  it("a batch that hits D1's time limit is retried with half the chunk, and the run completes exactly", async () => {
    await prepare("tl");
    // The first recompute batch (50 days, in whichever database) hits the limit; the retry with 25 succeeds.
    const timeLimit = new Error("D1_ERROR: D1 DB storage operation exceeded timeout which caused object to be reset.");
    const faulty = new FaultyD1(env.DB, { when: (c) => c.kind === "batch" && /DELETE FROM "dirty_days"/.test(c.sql), mode: "before", error: timeLimit });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const results = await rollupEverywhere(faulty, { targetBatchMs: 2_000 });
    const result = { complete: results.every((r) => r.complete) };
    expect(faulty.fired).toBe(true);
    expect(result.complete).toBe(true);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/time limit, retrying with 25$/));
    await expectConverged("tl", referenceTables, "after a time-limit retry");
  });
});

describe("chunk sizing", () => {
  it("a given chunk is fixed; the default follows the target time, at most doubling, within [1, max]", () => {
    const fixed = new ChunkSizer(40, true, 2000, 5000);
    fixed.observe(1);
    fixed.observe(60_000);
    expect(fixed.current).toBe(40);

    const sized = new ChunkSizer(50, false, 2000, 5000);
    sized.observe(10); // far under target: doubles, not ×200
    expect(sized.current).toBe(100);
    sized.observe(4000); // twice the target: halves
    expect(sized.current).toBe(50);
    sized.observe(2500); // 50 × 2000 / 2500
    expect(sized.current).toBe(40);
    sized.observe(1_000_000);
    expect(sized.current).toBe(1);
    for (let i = 0; i < 20; i++) sized.observe(1);
    expect(sized.current).toBe(5000);
    expect(sized.shrink()).toBe(true);
    expect(sized.current).toBe(2500);
    const one = new ChunkSizer(1, false, 2000, 5000);
    expect(one.shrink()).toBe(false);
  });
});
