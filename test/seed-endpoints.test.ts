import { beforeAll, describe, expect, it } from "vitest";
import { addDays, getJson, ingest, iso, orgToken, platformToken, request, rollup, todayDate, type EventInput } from "./helpers";

/**
 * The seed reference's four endpoints against a fixture whose answers were
 * computed by hand. Every read is made twice: with the events still in the live
 * tail, and after the cron rollup sealed them. Both must be byte-identical.
 */

const ORG = "acme-corp";
const ev = (id: string, created_at: string, extra: Partial<EventInput> = {}): EventInput => ({
  id,
  org: ORG,
  user_id: "user_123abc",
  service_id: "550e8400-e29b-41d4-a716-446655440000",
  service_name: "Main Application",
  provider: "github",
  created_at,
  ...extra,
});
const MOBILE = { service_id: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", service_name: "Mobile App" };
const ADMIN = { service_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7", service_name: "Admin Dashboard" };

const fixture: EventInput[] = [
  ev("before-range", "2024-12-31T23:59:59Z"),
  ev("jan1-first-second", "2025-01-01T00:00:00Z"),
  ev("jan1-last-second", "2025-01-01T23:59:59Z", { user_id: "user_456def", provider: "google", ...MOBILE }),
  ev("jan2", "2025-01-02T10:00:00Z", { provider: "microsoft", ...ADMIN }),
  ev("jan2-failure", "2025-01-02T11:00:00Z", { outcome: "failure", provider: "password" }),
  ev("jan15", "2025-01-15T14:32:18Z", { user_id: "user_789ghi", provider: "google", ...MOBILE }),
  ev("jan31-last-second", "2025-01-31T23:59:59Z", { provider: "microsoft", ...ADMIN }),
  ev("feb1-first-second", "2025-02-01T00:00:00Z"),
  // an offset timestamp: 2025-01-20T01:30:00+02:00 is 2025-01-19T23:30:00Z, a Jan 19 login in UTC
  ev("offset", "2025-01-20T01:30:00+02:00"),
];

const JAN = "start_date=2025-01-01&end_date=2025-01-31";
let tok: string;

async function bothWays(check: () => Promise<void>) {
  await check();
  await rollup();
  await check();
}

describe("seed endpoints", () => {
  beforeAll(async () => {
    tok = await orgToken(ORG);
    expect(await ingest(fixture)).toEqual({ accepted: fixture.length, duplicates: 0 });
  });

  it("login-trends: day boundaries in UTC, ascending, zero days omitted, failures excluded", async () => {
    await bothWays(async () => {
      const res = await request(`/api/organizations/${ORG}/analytics/login-trends?${JAN}`, { token: tok });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await res.text()).toBe(
        '[{"date":"2025-01-01","count":2},{"date":"2025-01-02","count":1},{"date":"2025-01-15","count":1},{"date":"2025-01-19","count":1},{"date":"2025-01-31","count":1}]',
      );
      const oneDay = await getJson(`/api/organizations/${ORG}/analytics/login-trends?start_date=2025-02-01&end_date=2025-02-01`, tok);
      expect(oneDay.body).toEqual([{ date: "2025-02-01", count: 1 }]);
    });
  });

  it("logins-by-service: count descending, ties by service_id, names from events", async () => {
    await bothWays(async () => {
      const { status, body } = await getJson(`/api/organizations/${ORG}/analytics/logins-by-service?${JAN}`, tok);
      expect(status).toBe(200);
      expect(body).toEqual([
        { service_id: "550e8400-e29b-41d4-a716-446655440000", service_name: "Main Application", count: 2 },
        { service_id: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", service_name: "Mobile App", count: 2 },
        { service_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7", service_name: "Admin Dashboard", count: 2 },
      ]);
    });
  });

  it("logins-by-provider: count descending, ties by provider", async () => {
    await bothWays(async () => {
      const { body } = await getJson(`/api/organizations/${ORG}/analytics/logins-by-provider?${JAN}`, tok);
      expect(body).toEqual([
        { provider: "github", count: 2 },
        { provider: "google", count: 2 },
        { provider: "microsoft", count: 2 },
      ]);
      const wide = await getJson(`/api/organizations/${ORG}/analytics/logins-by-provider?start_date=2024-12-01&end_date=2025-02-28`, tok);
      expect(wide.body).toEqual([
        { provider: "github", count: 4 },
        { provider: "google", count: 2 },
        { provider: "microsoft", count: 2 },
      ]);
    });
  });

  it("recent-logins: newest first, seed shape, default limit 10, seconds-precision timestamps", async () => {
    await bothWays(async () => {
      const res = await request(`/api/organizations/${ORG}/analytics/recent-logins?limit=3`, { token: tok });
      expect(await res.json()).toEqual([
        { id: "feb1-first-second", user_id: "user_123abc", service_id: "550e8400-e29b-41d4-a716-446655440000", provider: "github", created_at: "2025-02-01T00:00:00Z" },
        { id: "jan31-last-second", user_id: "user_123abc", service_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7", provider: "microsoft", created_at: "2025-01-31T23:59:59Z" },
        { id: "offset", user_id: "user_123abc", service_id: "550e8400-e29b-41d4-a716-446655440000", provider: "github", created_at: "2025-01-19T23:30:00Z" },
      ]);
      const all = await getJson<{ id: string }[]>(`/api/organizations/${ORG}/analytics/recent-logins`, tok);
      // 8 successes in the fixture; the failure never appears
      expect(all.body.map((r) => r.id)).toEqual([
        "feb1-first-second", "jan31-last-second", "offset", "jan15", "jan2", "jan1-last-second", "jan1-first-second", "before-range",
      ]);
      expect(all.res.headers.get("link")).toBeNull();
    });
  });

  it("validates dates and limits with 400 in the contract's shape", async () => {
    const bad = [
      "login-trends?start_date=2025-02-30",
      "login-trends?end_date=2025-13-01",
      "login-trends?start_date=2025-1-5",
      "login-trends?start_date=2025-01-05T00:00:00Z",
      "logins-by-service?start_date=2025-02-01&end_date=2025-01-31",
      "logins-by-provider?start_date=yesterday",
      "recent-logins?limit=0",
      "recent-logins?limit=1001",
      "recent-logins?limit=abc",
      "recent-logins?limit=1.5",
      "recent-logins?limit=-3",
      "recent-logins?cursor=not-a-cursor",
    ];
    for (const path of bad) {
      const { status, body } = await getJson<Record<string, unknown>>(`/api/organizations/${ORG}/analytics/${path}`, tok);
      expect(status, path).toBe(400);
      expect(body.error_code, path).toBe("BAD_REQUEST");
      expect(typeof body.error).toBe("string");
      expect(Number.isNaN(Date.parse(body.timestamp as string))).toBe(false);
    }
    expect((await getJson(`/api/organizations/${ORG}/analytics/recent-logins?limit=1000`, tok)).status).toBe(200);
    expect((await getJson(`/api/organizations/${ORG}/analytics/recent-logins?limit=1`, tok)).status).toBe(200);
  });

  it("404 for an unknown organization, 403 before 404 for another org's token", async () => {
    const owner = await platformToken();
    const missing = await getJson<Record<string, unknown>>("/api/organizations/no-such-org/analytics/login-trends", owner);
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe("NOT_FOUND");
    expect((await getJson("/api/organizations/no-such-org/analytics/login-trends", tok)).status).toBe(403);
    // a platform owner reads any existing org
    expect((await getJson(`/api/organizations/${ORG}/analytics/login-trends?${JAN}`, owner)).status).toBe(200);
  });
});

describe("defaults: end_date = today, start_date = today − 30, each independently", () => {
  const ORG2 = "defaults-org";
  const today = todayDate();
  beforeAll(async () => {
    await ingest([
      { id: "d0", org: ORG2, user_id: "u", service_id: "s", provider: "github", created_at: iso(today, "00:00:01") },
      { id: "d30", org: ORG2, user_id: "u", service_id: "s", provider: "github", created_at: iso(addDays(today, -30), "00:00:00") },
      { id: "d31", org: ORG2, user_id: "u", service_id: "s", provider: "github", created_at: iso(addDays(today, -31), "23:59:59") },
      { id: "d40", org: ORG2, user_id: "u", service_id: "s", provider: "github", created_at: iso(addDays(today, -40)) },
    ]);
  });

  it("uses the 31-day window by default, with only start, and with only end", async () => {
    const t = await orgToken(ORG2);
    await bothWays(async () => {
      const path = `/api/organizations/${ORG2}/analytics/login-trends`;
      expect((await getJson(path, t)).body).toEqual([
        { date: addDays(today, -30), count: 1 },
        { date: today, count: 1 },
      ]);
      expect((await getJson(`${path}?start_date=${addDays(today, -40)}`, t)).body).toEqual([
        { date: addDays(today, -40), count: 1 },
        { date: addDays(today, -31), count: 1 },
        { date: addDays(today, -30), count: 1 },
        { date: today, count: 1 },
      ]);
      expect((await getJson(`${path}?end_date=${addDays(today, -1)}`, t)).body).toEqual([{ date: addDays(today, -30), count: 1 }]);
      // start defaults to today − 30 even when end_date is earlier: that is start after end → 400
      expect((await getJson(`${path}?end_date=${addDays(today, -35)}`, t)).status).toBe(400);
    });
  });

  it("an organization with no logins answers empty arrays", async () => {
    await ingest([{ id: "only-failure", org: "quiet-org", user_id: "u", service_id: "s", provider: "github", outcome: "failure" }]);
    const t = await orgToken("quiet-org");
    await bothWays(async () => {
      for (const ep of ["login-trends", "logins-by-service", "logins-by-provider", "recent-logins"]) {
        const { status, body } = await getJson(`/api/organizations/quiet-org/analytics/${ep}`, t);
        expect(status, ep).toBe(200);
        expect(body, ep).toEqual([]);
      }
    });
  });
});

describe("recent-logins cursor paging", () => {
  const ORG3 = "paging-org";
  // 23 logins over 5 distinct timestamps, so most pages cut through a run of equal created_at
  const events: EventInput[] = Array.from({ length: 23 }, (_, i) => ({
    id: `p${String(i).padStart(2, "0")}`,
    org: ORG3,
    user_id: `u${i % 4}`,
    service_id: "s",
    provider: "github",
    created_at: `2025-03-0${1 + (i % 5)}T08:00:00Z`,
  }));

  it("follows rel=next links without skipping or repeating, across a rollup in the middle", async () => {
    await ingest(events);
    const t = await orgToken(ORG3);
    const expected = [...events]
      .map((e, seq) => ({ id: e.id, at: e.created_at!, seq }))
      .sort((a, b) => b.at.localeCompare(a.at) || b.seq - a.seq)
      .map((e) => e.id);
    for (const limit of [1, 4, 7, 23, 50]) {
      const seen: string[] = [];
      let next: string | null = `/api/organizations/${ORG3}/analytics/recent-logins?limit=${limit}`;
      let pages = 0;
      while (next) {
        const res = await request(next, { token: t });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { id: string }[];
        expect(body.length).toBeLessThanOrEqual(limit);
        seen.push(...body.map((r) => r.id));
        const link = res.headers.get("link");
        // a relative reference to this same route (RFC 8288), never an absolute URL built from Host
        next = link ? new RegExp(`^<(/api/organizations/${ORG3}/analytics/recent-logins\\?[^>]+)>; rel="next"$`).exec(link)![1] : null;
        if (++pages === 2) await rollup(); // sealing in between changes nothing for raw pages
      }
      expect(seen, `limit ${limit}`).toEqual(expected);
      expect(pages).toBe(Math.max(1, Math.ceil(23 / limit)));
    }
  });
});
