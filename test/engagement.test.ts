import { env, createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../src/index";
import { allD1, type EventInput, getJson, ingest, orgD1, orgToken, platformToken, rollup } from "./helpers";

/**
 * Engagement endpoints on a small fixture whose answers are worked out by hand
 * in the comments. 2025-03-03 is a Monday (ISO week 2025-W10).
 *
 *   Sat 03-01  bot (machine) via api
 *   Mon 03-03  alice via web
 *   Wed 03-05  alice via web; bob via web and via mobile (2 logins)
 *   Thu 03-06  bob: failure only
 *   Wed 03-12  alice via web
 *   Mon 03-31  carol via web (her first login)
 *   Tue 04-01  bot via api
 *   Thu 04-10  alice via web
 */
const ORG = "eng-org";
let n = 0;
const login = (user: string, date: string, service = "web", extra: Partial<EventInput> = {}): EventInput => ({
  id: `ev-${++n}`,
  org: ORG,
  user_id: user,
  service_id: service,
  provider: "google",
  created_at: `${date}T09:00:00Z`,
  ...extra,
});
const fixture = [
  login("bot", "2025-03-01", "api", { identity_type: "machine" }),
  login("alice", "2025-03-03"),
  login("alice", "2025-03-05"),
  login("bob", "2025-03-05"),
  login("bob", "2025-03-05", "mobile"),
  login("bob", "2025-03-06", "web", { outcome: "failure" }),
  login("alice", "2025-03-12"),
  login("carol", "2025-03-31"),
  login("bot", "2025-04-01", "api", { identity_type: "machine" }),
  login("alice", "2025-04-10"),
];

let tok: string;
const api = (path: string) => getJson<any>(`/api/organizations/${ORG}/analytics/${path}`, tok).then((r) => {
  expect(r.status, path).toBe(200);
  return r.body;
});

/** Runs the checks against the live tail, then again after the cron sealed everything. */
async function bothWays(check: () => Promise<void>) {
  await check();
  await rollup();
  await check();
}

beforeAll(async () => {
  tok = await orgToken(ORG);
  await ingest(fixture);
});

describe("active-users", () => {
  it("DAU/WAU/MAU per day, distinct actives and stickiness", async () => {
    await bothWays(async () => {
      expect(await api("active-users?start_date=2025-03-01&end_date=2025-03-08")).toEqual({
        start_date: "2025-03-01",
        end_date: "2025-03-08",
        days: [
          { date: "2025-03-01", dau: 1, wau: 1, mau: 1 },
          { date: "2025-03-02", dau: 0, wau: 1, mau: 1 },
          { date: "2025-03-03", dau: 1, wau: 2, mau: 2 },
          { date: "2025-03-04", dau: 0, wau: 2, mau: 2 },
          { date: "2025-03-05", dau: 2, wau: 3, mau: 3 },
          { date: "2025-03-06", dau: 0, wau: 3, mau: 3 }, // a failure does not make bob active
          { date: "2025-03-07", dau: 0, wau: 3, mau: 3 }, // [03-01, 03-07] still holds bot
          { date: "2025-03-08", dau: 0, wau: 2, mau: 3 }, // bot leaves the week window exactly 7 days later
        ],
        // (1/1 + 0/1 + 1/2 + 0/2 + 2/3 + 0 + 0 + 0) / 8 = 2.1667 / 8
        summary: { active_users: 3, average_stickiness: 0.2708 },
      });
    });
  });

  it("month window edges and the identity_type filter", async () => {
    await bothWays(async () => {
      const all = await api("active-users?start_date=2025-03-30&end_date=2025-04-04");
      expect(all.days).toEqual([
        { date: "2025-03-30", dau: 0, wau: 0, mau: 3 }, // [03-01, 03-30]: bot, alice, bob
        { date: "2025-03-31", dau: 1, wau: 1, mau: 3 }, // [03-02, 03-31]: bot out, carol in
        { date: "2025-04-01", dau: 1, wau: 2, mau: 4 },
        { date: "2025-04-02", dau: 0, wau: 2, mau: 4 },
        { date: "2025-04-03", dau: 0, wau: 2, mau: 4 },
        { date: "2025-04-04", dau: 0, wau: 2, mau: 3 }, // [03-06, 04-04]: bob (03-05) out
      ]);
      expect(all.summary.active_users).toBe(2);
      const machine = await api("active-users?start_date=2025-03-30&end_date=2025-04-01&identity_type=machine");
      expect(machine.days).toEqual([
        { date: "2025-03-30", dau: 0, wau: 0, mau: 1 },
        { date: "2025-03-31", dau: 0, wau: 0, mau: 0 },
        { date: "2025-04-01", dau: 1, wau: 1, mau: 1 },
      ]);
      expect(machine.summary).toEqual({ active_users: 1, average_stickiness: 0.5 });
      const human = await api("active-users?start_date=2025-03-05&end_date=2025-03-05&identity_type=human");
      expect(human.days).toEqual([{ date: "2025-03-05", dau: 2, wau: 2, mau: 2 }]);
    });
  });

  it("service_id restricts activity to one service", async () => {
    await bothWays(async () => {
      expect((await api("active-users?start_date=2025-03-05&end_date=2025-03-06&service_id=mobile")).days).toEqual([
        { date: "2025-03-05", dau: 1, wau: 1, mau: 1 },
        { date: "2025-03-06", dau: 0, wau: 1, mau: 1 },
      ]);
      expect((await api("active-users?start_date=2025-03-05&end_date=2025-03-05&service_id=nope")).summary).toEqual({
        active_users: 0,
        average_stickiness: null,
      });
    });
    const combined = await getJson(`/api/organizations/${ORG}/analytics/active-users?service_id=web&identity_type=human`, tok);
    expect(combined.status).toBe(400);
  });
});

describe("user-growth and summary", () => {
  it("new + returning = DAU, total = known identities so far", async () => {
    await bothWays(async () => {
      expect((await api("user-growth?start_date=2025-03-01&end_date=2025-03-06")).days).toEqual([
        { date: "2025-03-01", new_users: 1, returning_users: 0, total_users: 1 },
        { date: "2025-03-02", new_users: 0, returning_users: 0, total_users: 1 },
        { date: "2025-03-03", new_users: 1, returning_users: 0, total_users: 2 },
        { date: "2025-03-04", new_users: 0, returning_users: 0, total_users: 2 },
        { date: "2025-03-05", new_users: 1, returning_users: 1, total_users: 3 },
        { date: "2025-03-06", new_users: 0, returning_users: 0, total_users: 3 },
      ]);
      expect((await api("user-growth?start_date=2025-03-12&end_date=2025-03-12")).days).toEqual([
        { date: "2025-03-12", new_users: 0, returning_users: 1, total_users: 3 },
      ]);
      expect((await api("user-growth?start_date=2025-04-01&end_date=2025-04-01&identity_type=machine")).days).toEqual([
        { date: "2025-04-01", new_users: 0, returning_users: 1, total_users: 1 },
      ]);
    });
  });

  it("summary against the previous range of equal length", async () => {
    await bothWays(async () => {
      const march = await api("summary?start_date=2025-03-01&end_date=2025-03-31");
      expect(march.previous_range).toEqual({ start_date: "2025-01-29", end_date: "2025-02-28" });
      expect(march.metrics).toEqual({
        logins: { current: 7, previous: 0, change_pct: null },
        active_users: { current: 4, previous: 0, change_pct: null },
        new_users: { current: 4, previous: 0, change_pct: null },
        returning_users: { current: 0, previous: 0, change_pct: null },
        failed_logins: { current: 1, previous: 0, change_pct: null },
        machine_identities_active: { current: 1, previous: 0, change_pct: null },
      });
      const april = await api("summary?start_date=2025-04-01&end_date=2025-04-30");
      expect(april.range).toEqual({ start_date: "2025-04-01", end_date: "2025-04-30" });
      expect(april.previous_range).toEqual({ start_date: "2025-03-02", end_date: "2025-03-31" });
      expect(april.metrics).toEqual({
        logins: { current: 2, previous: 6, change_pct: -66.7 },
        active_users: { current: 2, previous: 3, change_pct: -33.3 },
        new_users: { current: 0, previous: 3, change_pct: -100 },
        returning_users: { current: 2, previous: 0, change_pct: null },
        failed_logins: { current: 0, previous: 1, change_pct: -100 },
        machine_identities_active: { current: 1, previous: 0, change_pct: null },
      });
    });
  });
});

describe("weekly lifecycle and retention", () => {
  it("classifies identities per ISO week", async () => {
    await bothWays(async () => {
      expect(await api("lifecycle?start_date=2025-02-26&end_date=2025-03-16")).toEqual({
        start_date: "2025-02-24",
        end_date: "2025-03-16",
        weeks: [
          { week: "2025-W09", week_start: "2025-02-24", new: 1, returning: 0, resurrecting: 0, dormant: 0 },
          { week: "2025-W10", week_start: "2025-03-03", new: 2, returning: 0, resurrecting: 0, dormant: 1 },
          { week: "2025-W11", week_start: "2025-03-10", new: 0, returning: 1, resurrecting: 0, dormant: 1 },
        ],
      });
      expect((await api("lifecycle?start_date=2025-03-31&end_date=2025-04-13")).weeks).toEqual([
        { week: "2025-W14", week_start: "2025-03-31", new: 1, returning: 0, resurrecting: 1, dormant: 0 },
        { week: "2025-W15", week_start: "2025-04-07", new: 0, returning: 0, resurrecting: 1, dormant: 2 },
      ]);
    });
  });

  it("the calendar's ends: year 0100 starts in week 0099-W53; a week ending after 9999-12-31 is refused", async () => {
    // 0100-01-01 is a Friday, so its ISO week is the last of 0099, which began on a Thursday (53 weeks)
    expect(await api("lifecycle?start_date=0100-01-01&end_date=0100-01-01")).toEqual({
      start_date: "0099-12-28",
      end_date: "0100-01-03",
      weeks: [{ week: "0099-W53", week_start: "0099-12-28", new: 0, returning: 0, resurrecting: 0, dormant: 0 }],
    });
    for (const route of ["lifecycle", "retention"]) {
      const res = await getJson<any>(`/api/organizations/${ORG}/analytics/${route}?start_date=9999-12-31&end_date=9999-12-31`, tok);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error_code: "BAD_REQUEST", details: [{ path: "end_date" }] });
    }
  });

  it("weekly sign-up cohorts", async () => {
    await bothWays(async () => {
      expect(await api("retention?start_date=2025-02-24&end_date=2025-03-16")).toEqual({
        start_date: "2025-02-24",
        end_date: "2025-03-16",
        cohorts: [
          { cohort: "2025-W09", week_start: "2025-02-24", size: 1, retention: [{ week: 1, active: 0, rate: 0 }, { week: 2, active: 0, rate: 0 }] },
          { cohort: "2025-W10", week_start: "2025-03-03", size: 2, retention: [{ week: 1, active: 1, rate: 0.5 }] },
        ],
      });
    });
  });
});

describe("late events", () => {
  it("a login before an identity's known first login moves its 'new' day, live and sealed", async () => {
    await ingest([{ id: "dave-june", org: ORG, user_id: "dave", service_id: "web", provider: "github", created_at: "2025-06-20T10:00:00Z" }]);
    await rollup();
    expect((await api("user-growth?start_date=2025-06-20&end_date=2025-06-20")).days).toEqual([
      { date: "2025-06-20", new_users: 1, returning_users: 0, total_users: 5 },
    ]);
    // 50 days earlier: far outside the 30-day window of the June day, still in the tail
    await ingest([{ id: "dave-may", org: ORG, user_id: "dave", service_id: "web", provider: "github", created_at: "2025-05-01T10:00:00Z" }]);
    await bothWays(async () => {
      expect((await api("user-growth?start_date=2025-06-20&end_date=2025-06-20")).days).toEqual([
        { date: "2025-06-20", new_users: 0, returning_users: 1, total_users: 5 },
      ]);
      expect((await api("user-growth?start_date=2025-05-01&end_date=2025-05-01")).days).toEqual([
        { date: "2025-05-01", new_users: 1, returning_users: 0, total_users: 5 },
      ]);
    });
  });
});

describe("an organization without logins", () => {
  it("answers zeros, not errors", async () => {
    await ingest([{ id: "f1", org: "silent-org", user_id: "x", service_id: "web", provider: "saml", outcome: "failure", created_at: "2025-03-02T00:00:00Z" }]);
    const t = await orgToken("silent-org");
    const q = "start_date=2025-03-01&end_date=2025-03-02";
    await bothWays(async () => {
      const au = (await getJson<any>(`/api/organizations/silent-org/analytics/active-users?${q}`, t)).body;
      expect(au.days).toEqual([
        { date: "2025-03-01", dau: 0, wau: 0, mau: 0 },
        { date: "2025-03-02", dau: 0, wau: 0, mau: 0 },
      ]);
      expect(au.summary).toEqual({ active_users: 0, average_stickiness: null });
      const s = (await getJson<any>(`/api/organizations/silent-org/analytics/summary?${q}`, t)).body;
      expect(s.metrics.failed_logins).toEqual({ current: 1, previous: 0, change_pct: null });
      expect(s.metrics.logins).toEqual({ current: 0, previous: 0, change_pct: null });
      expect((await getJson<any>(`/api/organizations/silent-org/analytics/retention?${q}`, t)).body.cohorts).toEqual([]);
      expect((await getJson<any>(`/api/organizations/silent-org/analytics/lifecycle?${q}`, t)).body.weeks).toEqual([
        { week: "2025-W09", week_start: "2025-02-24", new: 0, returning: 0, resurrecting: 0, dormant: 0 },
      ]);
    });
  });
});

describe("platform view", () => {
  it("ranks organizations and totals the platform", async () => {
    const owner = await platformToken();
    await bothWays(async () => {
      const orgs = (await getJson<any>("/api/platform/analytics/organizations?end_date=2025-03-31", owner)).body;
      expect(orgs.start_date).toBe("2025-03-04");
      expect(orgs.organizations[0]).toEqual({
        org: ORG,
        // [03-04, 03-31]: alice, bob, carol; previous [02-04, 03-03]: bot, alice
        active_users: 3,
        previous_active_users: 2,
        active_users_change_pct: 50,
        new_users: 2, // bob (03-05), carol (03-31)
        returning_users: 1,
        returning_share: 0.3333,
        logins: 5, // alice 03-05, 03-12; bob ×2; carol
        last_activity_at: "2025-06-20T10:00:00Z",
        // up 50% from 2 active: expanding; bot went dormant, bob and carol are new: quick ratio 2
        health: {
          label: "expanding",
          signup_without_return: false,
          reason: "active identities up 50% (≥ 10%)",
          inputs: expect.objectContaining({ active: 3, previous_active: 2, active_change_pct: 50, new: 2, returning: 1, resurrecting: 0, newly_dormant: 1, quick_ratio: 2, logins: 5 }),
        },
      });
      const activity = (await getJson<any>("/api/platform/analytics/login-activity?start_date=2025-03-01&end_date=2025-03-05", owner)).body;
      expect(activity).toEqual([
        { date: "2025-03-01", count: 1 },
        { date: "2025-03-03", count: 1 },
        { date: "2025-03-05", count: 3 },
      ]);
    });
  });
});

describe("cron", () => {
  it("the */15 schedule folds and recomputes; an unknown schedule fails loudly", async () => {
    await ingest([{ id: "cron-1", org: ORG, user_id: "erin", service_id: "web", provider: "github", created_at: "2025-07-01T00:00:00Z" }]);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "*/15 * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    // every database rolled up: watermark at its last event, nothing dirty
    for (const d1 of allD1()) {
      const state = await d1.prepare(
        "SELECT (SELECT value FROM rollup_state WHERE key = 'events_watermark') AS wm, (SELECT MAX(seq) FROM login_events) AS max_seq, (SELECT COUNT(*) FROM dirty_days) AS dirty",
      ).first<{ wm: number; max_seq: number; dirty: number }>();
      expect(state).toEqual({ wm: state!.max_seq, max_seq: state!.max_seq, dirty: 0 });
    }
    const stats = await (await orgD1(ORG)).prepare(
      "SELECT dau, new_users FROM daily_org_stats WHERE day = ?1 AND org_id = (SELECT id FROM organizations WHERE slug = ?2)",
    ).bind(Date.UTC(2025, 6, 1) / 86_400_000, ORG).first();
    expect(stats).toEqual({ dau: 1, new_users: 1 });
    await expect(
      worker.scheduled(createScheduledController({ cron: "0 0 * * *" }), env, createExecutionContext()),
    ).rejects.toThrow(/No job is scheduled/);
  });
});

describe("a tail of nothing but late logins, beside sealed logins after them", () => {
  // Sealed first: u1 on Fri 05-16 and Sat 05-24, u2 on Tue 05-13. Then, unsealed: both on
  // Wed 05-14 (late: u1's first login moves from 05-16 to 05-14). The windows ending after the
  // tail's last day hold sealed logins that come after it, which the tail's correction must see.
  const LATE = "late-tail-org";
  const at = (id: string, user: string, date: string): EventInput => ({ id, org: LATE, user_id: user, service_id: "web", provider: "github", created_at: `${date}T10:00:00Z` });

  it("WAU/MAU per day and the weekly lifecycle, before and after the rollup", async () => {
    const late = await orgToken(LATE);
    const read = async (path: string) => {
      const r = await getJson<any>(`/api/organizations/${LATE}/analytics/${path}`, late);
      expect(r.status, path).toBe(200);
      return r.body;
    };
    await ingest([at("s1", "u1", "2025-05-16"), at("s2", "u1", "2025-05-24"), at("s3", "u2", "2025-05-13")]);
    expect((await rollup()).complete).toBe(true);
    await ingest([at("t1", "u1", "2025-05-14"), at("t2", "u2", "2025-05-14")]);
    const check = async () => {
      // [dau, wau, mau] per day: WAU counts u1 and u2 from 05-14 to 05-20 (u2 leaves when 05-14 does),
      // u1 alone until 05-22 (its 05-16), nobody on 05-23
      const expected = [[0, 0, 0], [1, 1, 1], [2, 2, 2], [0, 2, 2], [1, 2, 2], [0, 2, 2], [0, 2, 2], [0, 2, 2], [0, 2, 2], [0, 1, 2], [0, 1, 2], [0, 0, 2], [1, 1, 2], [0, 1, 2]];
      const days = (await read("active-users?start_date=2025-05-12&end_date=2025-05-25")).days;
      expect(days.map((d: { dau: number; wau: number; mau: number }) => [d.dau, d.wau, d.mau])).toEqual(expected);
      // W20: both new (u1's first login is now 05-14); W21: u1 returns, u2 goes dormant
      expect((await read("lifecycle?start_date=2025-05-12&end_date=2025-05-25")).weeks).toEqual([
        { week: "2025-W20", week_start: "2025-05-12", new: 2, returning: 0, resurrecting: 0, dormant: 0 },
        { week: "2025-W21", week_start: "2025-05-19", new: 0, returning: 1, resurrecting: 0, dormant: 1 },
      ]);
    };
    await check();
    await rollup();
    await check();
  });
});
