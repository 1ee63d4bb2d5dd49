import { env } from "cloudflare:test";
import fc from "fast-check";
import { ACTIVE_WINDOW_LENGTHS } from "../src/metrics/active-windows";
import { describe, expect, it } from "vitest";
import { composeOrgReport } from "../src/governance/reports";
import { pruneRawEvents } from "../src/governance/retention";
import { addDays, countEverywhere, DAY_MS, dueDirtyDays, getJson, ingest, orgDb, request, resetDatabases, rollup, SHARDED, testDatabases, todayDate, token } from "./helpers";
import { everyDatabase, placeByHash } from "../src/db/shards";
import { dateOf, dayOfMs, GovernanceOracle, healthOf, Oracle } from "./oracle";
import { loginEventArb } from "./arbitraries";

/**
 * "Precomputed never means wrong": random multi-org event streams with
 * duplicates and late events, cron runs at random points (some cut off after a
 * few batches, as if the invocation died), and every endpoint compared with a
 * brute-force recomputation from the raw events (test/oracle.ts).
 */

const ORGS = ["org-a", "org-b", "org-c"];
/**
 * Random streams per run: 32, and 16 in the sharded project (vitest.config.ts), which runs the
 * storage tests again with the organizations spread over two databases (org-b in DB, org-a and
 * org-c in DB_SHARD_1) to prove the merges. LOGINPULSE_PROPERTY_STREAMS=n runs n in each (a
 * deeper search before a release, or 1 while iterating).
 */
const STREAMS = Number(env.TEST_PROPERTY_STREAMS) || (SHARDED ? 16 : 32);
const WINDOW_DAYS = 75;
const base = dayOfMs(Date.parse(`${addDays(todayDate(), -WINDOW_DAYS)}T00:00:00Z`));

const eventArb = loginEventArb({ orgs: ORGS, ids: 151, users: 8, firstDay: base, days: WINDOW_DAYS });
/** Only days at least 30 before today: after a rollup, a tail of nothing but late events (its last day long past). */
const lateEventArb = loginEventArb({ orgs: ORGS, ids: 151, users: 8, firstDay: base, days: WINDOW_DAYS - 30 });

/** Inventory feeds (known and never-seen ids), deprovisioning, and threshold changes. */
const governanceArb = fc.oneof(
  fc
    .record({
      org: fc.constantFrom(...ORGS),
      list: fc.uniqueArray(
        fc.record(
          {
            user_id: fc.oneof(fc.nat(7).map((n) => `u${n}`), fc.nat(3).map((n) => `never-${n}`)),
            identity_type: fc.constantFrom("human" as const, "machine" as const),
            display_name: fc.constantFrom("Ada", "Nightly job", "x, \"y\""),
            owner: fc.constantFrom("team-a", "team-b"),
            created_at: fc.nat(WINDOW_DAYS + 30).map((d) => new Date((base - 30 + d) * DAY_MS + 3_600_000).toISOString()),
          },
          { requiredKeys: ["user_id", "identity_type"] },
        ),
        { minLength: 1, maxLength: 5, selector: (i) => `${i.user_id}|${i.identity_type}` },
      ),
    })
    .map((r) => ({ kind: "inventory" as const, ...r })),
  fc
    .record({ org: fc.constantFrom(...ORGS), user: fc.oneof(fc.nat(7).map((n) => `u${n}`), fc.constant("never-0")), type: fc.option(fc.constantFrom("human" as const, "machine" as const), { nil: undefined }) })
    .map((r) => ({ kind: "deprovision" as const, ...r })),
  fc
    .record({
      org: fc.constantFrom(...ORGS),
      human: fc.uniqueArray(fc.integer({ min: 7, max: 80 }), { minLength: 1, maxLength: 3 }).map((a) => a.sort((x, y) => x - y)),
      machine: fc.uniqueArray(fc.integer({ min: 7, max: 80 }), { minLength: 1, maxLength: 3 }).map((a) => a.sort((x, y) => x - y)),
    })
    .map((r) => ({ kind: "settings" as const, ...r })),
);

const actionArb = fc.oneof(
  { weight: 3, arbitrary: fc.array(eventArb, { minLength: 1, maxLength: 40 }).map((events) => ({ kind: "ingest" as const, events })) },
  { weight: 1, arbitrary: fc.array(lateEventArb, { minLength: 1, maxLength: 20 }).map((events) => ({ kind: "ingest" as const, events })) },
  { weight: 1, arbitrary: governanceArb },
  {
    weight: 2,
    arbitrary: fc
      .record({ maxBatches: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), eventChunk: fc.integer({ min: 1, max: 30 }), dayChunk: fc.integer({ min: 1, max: 40 }) })
      .map((o) => ({ kind: "rollup" as const, ...o })),
  },
);

const rangeArb = fc
  .tuple(fc.nat(WINDOW_DAYS + 5), fc.nat(WINDOW_DAYS + 5))
  .map(([a, b]) => ({ s: base + Math.min(a, b) - 3, e: base + Math.max(a, b) - 3 }));

/** Dormancy (every threshold, both types, each status, paged and whole) and reactivations against the brute-force model. */
async function checkGovernance(oracle: Oracle, gov: GovernanceOracle, tokens: Record<string, string>) {
  const today = dayOfMs(Date.now());
  for (const org of oracle.orgs()) {
    const tok = tokens[org];
    const path = `/api/organizations/${org}/analytics/dormancy`;
    const get = async (q: string) => {
      const r = await getJson<Record<string, unknown>>(`${path}?limit=1000${q}`, tok);
      expect(r.status, q).toBe(200);
      return r.body;
    };
    const th = gov.thresholds(org);
    // each threshold of either type (and an off-threshold one) for both types; the type filter at the default
    for (const days of [undefined, ...new Set([...th.human, ...th.machine, 1])]) {
      expect(await get(days ? `&days=${days}` : ""), `dormancy ${org} days=${days}`).toEqual(gov.dormancy(org, today, { days }));
    }
    for (const type of ["human", "machine"] as const) {
      expect(await get(`&identity_type=${type}`), `dormancy ${org} ${type}`).toEqual(gov.dormancy(org, today, { type }));
    }
    for (const status of ["dormant", "never_seen", "overdue"] as const) {
      expect(await get(`&status=${status}`), `dormancy ${org} ${status}`).toEqual(gov.dormancy(org, today, { status }));
    }
    // reactivations over the whole window, each type (late events split gaps; cron runs cut off midway)
    for (const type of [undefined, "human", "machine"] as const) {
      const r = await getJson<{ reactivations: unknown[] }>(
        `/api/organizations/${org}/analytics/reactivations?start_date=${dateOf(base - 5)}&end_date=${dateOf(today)}&limit=1000${type ? `&identity_type=${type}` : ""}`,
        tok,
      );
      expect(r.status).toBe(200);
      expect(r.body.reactivations, `reactivations ${org} ${type}`).toEqual(gov.reactivations(org, base - 5, today, type));
    }
    // health as of today and as of a day in the window, with its inputs
    for (const end of [today, base + 40]) {
      const h = await getJson<{ organizations: unknown[] }>(`/api/platform/analytics/organization-health?org=${org}&end_date=${dateOf(end)}`, tokens.platform);
      expect(h.status).toBe(200);
      expect(h.body.organizations, `health ${org} ${dateOf(end)}`).toEqual([{ org, ...healthOf(oracle, org, end) }]);
    }
    // paged: the pages are the whole list
    const whole = gov.dormancy(org, today, { days: 7 }).identities;
    const paged: unknown[] = [];
    let next: string | null = `${path}?days=7&limit=2`;
    while (next) {
      const r: { body: { identities: unknown[] }; res: Response } = await getJson<{ identities: unknown[] }>(next, tok);
      paged.push(...r.body.identities);
      const link: string | null = r.res.headers.get("link");
      next = link ? link.slice(1, link.indexOf(">")) : null;
    }
    expect(paged, `dormancy ${org} paged`).toEqual(whole);
  }
}

/**
 * Every read of every organization and of the platform. The per-identity-type reads are checked
 * for all identities and for one type, the stream's (both types across the streams).
 */
async function checkEverything(oracle: Oracle, range: { s: number; e: number }, tokens: Record<string, string>, preset: number, identityType: "human" | "machine") {
  const q = `start_date=${dateOf(range.s)}&end_date=${dateOf(range.e)}`;
  // a range of a kept window length (answered from the window deltas), ending the same day
  const window = { s: range.e - preset + 1, e: range.e };
  const wq = `start_date=${dateOf(window.s)}&end_date=${dateOf(window.e)}`;
  for (const org of ORGS) {
    const tok = tokens[org];
    const path = `/api/organizations/${org}/analytics`;
    if (!oracle.orgs().includes(org)) {
      expect((await getJson(`${path}/login-trends?${q}`, tok)).status).toBe(404);
      continue;
    }
    const get = async (p: string) => {
      const r = await getJson(p, tok);
      expect(r.status, p).toBe(200);
      return r.body;
    };
    expect(await get(`${path}/login-trends?${q}`), "login-trends").toEqual(oracle.loginTrends(org, range.s, range.e));
    expect(await get(`${path}/logins-by-service?${q}`), "logins-by-service").toEqual(oracle.loginsByService(org, range.s, range.e));
    expect(await get(`${path}/logins-by-provider?${q}`), "logins-by-provider").toEqual(oracle.loginsByProvider(org, range.s, range.e));
    expect(await get(`${path}/recent-logins?limit=1000`), "recent-logins").toEqual(oracle.recentLogins(org));
    for (const type of [undefined, identityType]) {
      const tq = `${q}${type ? `&identity_type=${type}` : ""}`;
      expect(await get(`${path}/active-users?${tq}`), `active-users ${type}`).toEqual(oracle.activeUsers(org, range.s, range.e, type));
      expect(await get(`${path}/user-growth?${tq}`), `user-growth ${type}`).toEqual(oracle.userGrowth(org, range.s, range.e, type));
      expect(await get(`${path}/summary?${tq}`), `summary ${type}`).toEqual(oracle.summary(org, range.s, range.e, type));
      expect(await get(`${path}/lifecycle?${tq}`), `lifecycle ${type}`).toEqual(oracle.lifecycle(org, range.s, range.e, type));
      expect(await get(`${path}/retention?${tq}`), `retention ${type}`).toEqual(oracle.retention(org, range.s, range.e, type));
      const wtq = `${wq}${type ? `&identity_type=${type}` : ""}`;
      expect(await get(`${path}/summary?${wtq}`), `summary ${type}, ${preset} days`).toEqual(oracle.summary(org, window.s, window.e, type));
      expect(((await get(`${path}/active-users?${wtq}`)) as { summary: unknown }).summary, `active-users ${type}, ${preset} days`).toEqual(
        oracle.activeUsers(org, window.s, window.e, type).summary,
      );
    }
    expect(await get(`${path}/active-users?${q}&service_id=svc-1`), "active-users service").toEqual(
      oracle.activeUsers(org, range.s, range.e, undefined, "svc-1"),
    );
  }
  const platform = tokens.platform;
  expect((await getJson(`/api/platform/analytics/login-activity?${q}`, platform)).body, "platform login-activity").toEqual(
    oracle.platformLoginActivity(range.s, range.e),
  );
  expect((await getJson(`/api/platform/analytics/overview?${q}`, platform)).body, "platform overview").toEqual(oracle.platformOverview(range.s, range.e));
  const orgs = (await getJson<{ organizations: unknown[]; total: number }>(`/api/platform/analytics/organizations?end_date=${dateOf(range.e)}`, platform)).body;
  expect(orgs.total).toBe(oracle.orgs().length);
  const withHealth = (rows: ReturnType<Oracle["platformOrganizations"]>) => rows.map((r) => ({ ...r, health: healthOf(oracle, r.org, range.e) }));
  expect(orgs.organizations, "platform organizations").toEqual(withHealth(oracle.platformOrganizations(range.e)));
  for (const [sort, order] of [["active_users_change_pct", "asc"], ["active_users_change_pct", "desc"], ["logins", "asc"], ["new_users", "desc"], ["last_activity_at", "desc"], ["slug", "desc"]] as const) {
    const page = (await getJson<{ organizations: unknown[] }>(
      `/api/platform/analytics/organizations?end_date=${dateOf(range.e)}&sort=${sort}&order=${order}&limit=2&offset=1`,
      platform,
    )).body;
    expect(page.organizations, `platform organizations ${sort} ${order}`).toEqual(withHealth(oracle.platformOrganizations(range.e, sort, order).slice(1, 3)));
  }
}

describe("rolled-up answers equal brute force over raw events", () => {
  it("for random streams, duplicates, late events and interrupted cron runs", async () => {
    // sharded, the streams' organizations really are spread over both databases
    if (SHARDED) expect(ORGS.map((o) => placeByHash(o, ["DB", "DB_SHARD_1"]))).toEqual(["DB_SHARD_1", "DB", "DB_SHARD_1"]);
    // minted once for the whole run, which can outlast the helpers' 10-minute tokens on a busy machine
    const long = (claims: Record<string, unknown>) => token({ claims, expiresIn: "2h" });
    const tokens: Record<string, string> = {
      platform: await long({ is_platform_owner: true }),
      platformAdmin: await long({ is_platform_owner: true }),
      inventory: await long({ scope: "inventory:write" }),
    };
    for (const org of ORGS) tokens[org] = await long({ org });

    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 8 }), rangeArb, fc.constantFrom(...ACTIVE_WINDOW_LENGTHS), fc.integer({ min: 5, max: WINDOW_DAYS + 5 }), fc.constantFrom("human" as const, "machine" as const), async (actions, range, preset, retention, identityType) => {
        await resetDatabases();
        const oracle = new Oracle();
        const gov = new GovernanceOracle(oracle);
        for (const action of actions) {
          if (action.kind === "ingest") {
            const [accepted, duplicates] = oracle.post(action.events);
            expect(await ingest(action.events)).toEqual({ accepted, duplicates });
          } else if (action.kind === "inventory") {
            const res = await request(`/api/organizations/${action.org}/identities`, {
              method: "PUT",
              token: tokens.inventory,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ identities: action.list }),
            });
            expect(res.status).toBe(200);
            gov.putInventory(action.org, action.list, Date.now());
            oracle.knownOrgs.add(action.org);
          } else if (action.kind === "deprovision") {
            const res = await request(`/api/organizations/${action.org}/identities/${action.user}${action.type ? `?identity_type=${action.type}` : ""}`, {
              method: "DELETE",
              token: tokens.inventory,
            });
            expect([200, 404]).toContain(res.status);
            if (res.status === 200) gov.deprovision(action.org, action.user, Date.now(), action.type);
          } else if (action.kind === "settings") {
            const res = await request(`/api/organizations/${action.org}/settings`, {
              method: "PUT",
              token: tokens.platformAdmin,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ human_thresholds: action.human, machine_thresholds: action.machine }),
            });
            expect([200, 404]).toContain(res.status);
            if (res.status === 200) gov.settings.set(action.org, { human: action.human, machine: action.machine });
          } else {
            await rollup({ maxBatches: action.maxBatches, eventChunk: action.eventChunk, dayChunk: action.dayChunk });
          }
        }
        // Whatever state the last (possibly interrupted) run left: exact.
        await checkEverything(oracle, range, tokens, preset, identityType);
        await checkGovernance(oracle, gov, tokens);
        // And once everything is sealed: still exact, and nothing left over.
        const done = await rollup({ eventChunk: 7, dayChunk: 11 });
        expect(done.complete).toBe(true);
        expect(await dueDirtyDays()).toBe(0);
        await checkEverything(oracle, range, tokens, preset, identityType);
        await checkGovernance(oracle, gov, tokens);
        // And after retention pruned the raw events older than `retention` days (in small chunks):
        // every rollup-derived answer and every report is unchanged; recent-logins reaches back less.
        // Then read with every future day sealed too.
        const day = dayOfMs(Date.now());
        const reportsBefore = await Promise.all(oracle.orgs().map(async (org) => composeOrgReport(await orgDb(org), org, day, 0)));
        const pruned = await everyDatabase(testDatabases(), (db) =>
          pruneRawEvents(db, { now: Date.now(), retentionDays: retention, deadline: Number.POSITIVE_INFINITY, chunk: 3 }),
        );
        expect(pruned.every((p) => p.complete)).toBe(true);
        oracle.retainedFrom = (day - retention) * DAY_MS;
        expect(pruned.reduce((n, p) => n + p.deleted, 0)).toBe(oracle.events.filter((e) => e.createdAt < oracle.retainedFrom).length);
        const reportsAfter = await Promise.all(oracle.orgs().map(async (org) => composeOrgReport(await orgDb(org), org, day, 0)));
        expect(reportsAfter.map((r) => r?.body), "reports after pruning").toEqual(reportsBefore.map((r) => r?.body));
        // And once the days after today have come: a run then recomputes the dirty days it left for
        // them (a login's WAU/MAU windows reach 29 days ahead), and none is left.
        expect((await rollup({ now: Date.now() + 31 * DAY_MS, dayChunk: 13 })).complete).toBe(true);
        expect(await countEverywhere("SELECT COUNT(*) AS n FROM dirty_days")).toBe(0);
        await checkEverything(oracle, range, tokens, preset, identityType);
        await checkGovernance(oracle, gov, tokens);
      }),
      { numRuns: STREAMS, endOnFailure: true },
    );
  }, 400_000); // 32 streams × every read and the governance reads, three times: about a minute alone, more on a busy machine
});
