import { env } from "cloudflare:test";
import fc from "fast-check";
import { ACTIVE_WINDOW_LENGTHS } from "../src/metrics/active-windows";
import { describe, expect, it } from "vitest";
import { addDays, DAY_MS, type EventInput, getJson, ingest, orgToken, platformToken, rollup, todayDate } from "./helpers";
import { dateOf, dayOfMs, Oracle } from "./oracle";

/**
 * "Precomputed never means wrong": random multi-org event streams with
 * duplicates and late events, cron runs at random points (some cut off after a
 * few batches, as if the invocation died), and every endpoint compared with a
 * brute-force recomputation from the raw events (test/oracle.ts).
 */

const ORGS = ["org-a", "org-b", "org-c"];
const WINDOW_DAYS = 75;
const base = dayOfMs(Date.parse(`${addDays(todayDate(), -WINDOW_DAYS)}T00:00:00Z`));

const eventArb = fc
  .record({
    id: fc.nat(150),
    org: fc.constantFrom(...ORGS),
    user: fc.nat(7),
    machine: fc.boolean(),
    service: fc.nat(2),
    provider: fc.constantFrom("github", "google", "password"),
    failure: fc.nat(9),
    day: fc.nat(WINDOW_DAYS - 1),
    second: fc.oneof(fc.constant(0), fc.constant(86_399), fc.nat(86_399)),
  })
  .map(
    (r): EventInput => ({
      id: `e${r.id}`,
      org: r.org,
      user_id: `u${r.user}`,
      identity_type: r.machine ? "machine" : "human",
      service_id: `svc-${r.service}`,
      service_name: `Service ${r.service}`,
      provider: r.provider,
      outcome: r.failure === 0 ? "failure" : "success",
      created_at: new Date((base + r.day) * DAY_MS + r.second * 1000).toISOString(),
    }),
  );

const actionArb = fc.oneof(
  { weight: 3, arbitrary: fc.array(eventArb, { minLength: 1, maxLength: 40 }).map((events) => ({ kind: "ingest" as const, events })) },
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

/** Empties every table the migrations created (read from the schema, so a new table is never left out). */
async function resetDb() {
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'",
  ).all<{ name: string }>();
  // foreign keys are checked at commit, when every table is empty
  await env.DB.batch([env.DB.prepare("PRAGMA defer_foreign_keys = ON"), ...results.map((t) => env.DB.prepare(`DELETE FROM "${t.name}"`))]);
}

async function checkEverything(oracle: Oracle, range: { s: number; e: number }, tokens: Record<string, string>, preset: number) {
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
    for (const type of [undefined, "human", "machine"] as const) {
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
  expect(orgs.organizations, "platform organizations").toEqual(oracle.platformOrganizations(range.e));
  for (const [sort, order] of [["active_users_change_pct", "asc"], ["active_users_change_pct", "desc"], ["logins", "asc"], ["new_users", "desc"], ["last_activity_at", "desc"], ["slug", "desc"]] as const) {
    const page = (await getJson<{ organizations: unknown[] }>(
      `/api/platform/analytics/organizations?end_date=${dateOf(range.e)}&sort=${sort}&order=${order}&limit=2&offset=1`,
      platform,
    )).body;
    expect(page.organizations, `platform organizations ${sort} ${order}`).toEqual(oracle.platformOrganizations(range.e, sort, order).slice(1, 3));
  }
}

describe("rolled-up answers equal brute force over raw events", () => {
  it("for random streams, duplicates, late events and interrupted cron runs", async () => {
    const tokens: Record<string, string> = { platform: await platformToken() };
    for (const org of ORGS) tokens[org] = await orgToken(org);

    await fc.assert(
      fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 8 }), rangeArb, fc.constantFrom(...ACTIVE_WINDOW_LENGTHS), async (actions, range, preset) => {
        await resetDb();
        const oracle = new Oracle();
        for (const action of actions) {
          if (action.kind === "ingest") {
            const [accepted, duplicates] = oracle.post(action.events);
            expect(await ingest(action.events)).toEqual({ accepted, duplicates });
          } else {
            await rollup({ maxBatches: action.maxBatches, eventChunk: action.eventChunk, dayChunk: action.dayChunk });
          }
        }
        // Whatever state the last (possibly interrupted) run left: exact.
        await checkEverything(oracle, range, tokens, preset);
        // And once everything is sealed: still exact, and nothing left over.
        const done = await rollup({ eventChunk: 7, dayChunk: 11 });
        expect(done.complete).toBe(true);
        const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM dirty_days").first<{ n: number }>();
        expect(left?.n).toBe(0);
        await checkEverything(oracle, range, tokens, preset);
      }),
      { numRuns: 50, endOnFailure: true },
    );
  }, 240_000); // 50 streams × every read, twice: about a minute alone, more on a busy machine
});
