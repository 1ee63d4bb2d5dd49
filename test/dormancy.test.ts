import { beforeAll, describe, expect, it } from "vitest";
import { expectErrorBody } from "./contract";
import { type EventInput, ingest, orgToken, relativeLogins, request, rollup, token } from "./helpers";
import { dateOf, GovernanceOracle, Oracle } from "./oracle";

/**
 * Dormancy, never-seen inventory, overdue machines and dormant services: hand-computed
 * fixtures at every edge (last login exactly N, N − 1 and N + 1 days ago; a cadence just
 * under and just over 3g), live before the rollup and sealed after it, and the brute-force
 * model agreeing with both.
 */

const ORG = "dorm";
const { today: T, at, login } = relativeLogins(ORG, "d");
const machine = (user: string, daysAgo: number[], extra: Partial<EventInput> = {}) =>
  daysAgo.map((d) => login(user, d, { identity_type: "machine", service_id: "api", provider: "key", ...extra }));

const oracle = new Oracle();
const gov = new GovernanceOracle(oracle);

let reader: string;
const get = async (query = "") => {
  const res = await request(`/api/organizations/${ORG}/analytics/dormancy${query}`, { token: reader });
  expect(res.status, await res.clone().text()).toBe(200);
  return { body: (await res.json()) as Record<string, unknown> & { identities: Record<string, unknown>[] }, link: res.headers.get("link") };
};
const users = (rows: Record<string, unknown>[]) => rows.map((r) => `${r.user_id}:${r.days_dormant ?? r.age_days}`);

async function store(events: EventInput[]) {
  oracle.post(events);
  await ingest(events);
}

beforeAll(async () => {
  reader = await orgToken(ORG);
  await store([
    login("h-29", 40),
    login("h-29", 29, { service_id: "portal", provider: "google", created_at: at(29, "08:00:00") }),
    login("h-30", 30),
    login("h-31", 31, { created_at: at(31, "23:59:59") }),
    login("h-failed", 45, { service_id: "legacy" }),
    login("h-failed", 2, { outcome: "failure" }),
    login("h-61", 61, { service_id: "legacy" }),
    login("h-91", 91, { service_id: "legacy" }),
    login("h-deprov", 120, { service_id: "legacy" }),
    login("h-today", 0, { created_at: new Date(Date.now() - 60_000).toISOString() }),
    ...machine("m-7", [7]),
    ...machine("m-8", [8]),
    // cadence every 2 days (g = 2, 3g = 6): silent 6 days is on time, 7 days is overdue
    ...machine("cad-6", [16, 14, 12, 10, 8, 6]),
    ...machine("cad-7", [17, 15, 13, 11, 9, 7]),
    // gaps 1, 1, 3, 5: median (1 + 3) / 2 = 2, 3g = 6; silent 7 days
    ...machine("cad-even", [17, 16, 15, 12, 7]),
    // only 4 logins: no cadence, however long the silence
    ...machine("cad-4", [40, 30, 20, 10]),
    // 5 logins on one day: no gap, no cadence
    ...machine("cad-1day", [20, 20, 20, 20, 20].map((d) => d)).map((e, i) => ({ ...e, created_at: at(20, `0${i}:00:00`) })),
  ]);
  const admin = await orgToken(ORG, { scope: "org:admin" });
  const saved = await request(`/api/organizations/${ORG}/settings`, {
    method: "PUT",
    token: admin,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ machine_thresholds: [7, 14] }),
  });
  expect(saved.status).toBe(200);
  gov.settings.set(ORG, { human: [30, 60, 90], machine: [7, 14] });
  const idp = await token({ claims: { org: ORG, scope: "inventory:write" } });
  const inventory = [
    { user_id: "m-8", identity_type: "machine" as const, display_name: "Robot 8", owner: "team-x" },
    { user_id: "inv-never", display_name: "Never Seen", owner: "hr", created_at: at(12) },
    { user_id: "inv-new", identity_type: "machine" as const, created_at: new Date(Date.now() - 60_000).toISOString() },
    { user_id: "h-deprov" },
  ];
  const put = await request(`/api/organizations/${ORG}/identities`, {
    method: "PUT",
    token: idp,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identities: inventory }),
  });
  expect(put.status).toBe(200);
  gov.putInventory(ORG, inventory, Date.now());
  expect((await request(`/api/organizations/${ORG}/identities/h-deprov`, { method: "DELETE", token: idp })).status).toBe(200);
  gov.deprovision(ORG, "h-deprov", Date.now());
});

describe("dormancy at the threshold's edges", () => {
  const check = async (label: string) => {
    const { body } = await get("?limit=1000");
    // 30-day default for people; 7 days for machines (settings). h-30 (exactly N) and h-29 are not dormant;
    // h-failed is: a failed attempt is not activity. h-deprov is deprovisioned; never-seen by age.
    expect(users(body.identities), label).toEqual(["h-91:91", "h-61:61", "h-failed:45", "h-31:31", "cad-1day:20", "inv-never:12", "cad-4:10", "m-8:8", "inv-new:0"]);
    expect(body.days).toEqual({ human: 30, machine: 7, services: 7 });
    expect(body.summary).toEqual({
      thresholds: { human: [30, 60, 90], machine: [7, 14] },
      dormant: {
        human: [
          { days: 30, count: 4 },
          { days: 60, count: 2 },
          { days: 90, count: 1 },
        ],
        machine: [
          { days: 7, count: 3 },
          { days: 14, count: 1 },
        ],
      },
      never_seen: { human: 1, machine: 1 },
      dormant_services: 2,
    });
    const m8 = body.identities.find((r) => r.user_id === "m-8");
    expect(m8).toEqual({
      status: "dormant",
      user_id: "m-8",
      identity_type: "machine",
      display_name: "Robot 8",
      owner: "team-x",
      last_login_at: at(8),
      days_dormant: 8,
      age_days: null,
      last_service_id: "api",
      last_provider: "key",
      logins: 1,
      median_gap_days: null,
      overdue_after_days: null,
    });
    expect(body.identities.find((r) => r.user_id === "inv-never")).toMatchObject({ status: "never_seen", display_name: "Never Seen", owner: "hr", last_login_at: null, days_dormant: null, age_days: 12, logins: 0 });
    expect(body.dormant_services).toEqual([
      { service_id: "legacy", service_name: "legacy", last_login_date: dateOf(T - 45), days_dormant: 45 },
      { service_id: "portal", service_name: "portal", last_login_date: dateOf(T - 29), days_dormant: 29 },
    ]);
    expect(body).toEqual(gov.dormancy(ORG, T));
  };

  it("live, before the rollup", () => check("live"));
  it("sealed, after the rollup", async () => {
    expect((await rollup()).complete).toBe(true);
    await check("sealed");
  });

  it("days=N applies to both types: N − 1, N, N + 1", async () => {
    const { body } = await get("?days=30&identity_type=human&status=dormant&limit=1000");
    expect(users(body.identities)).toEqual(["h-91:91", "h-61:61", "h-failed:45", "h-31:31"]);
    for (const days of [29, 30, 31]) {
      const r = (await get(`?days=${days}&status=dormant&limit=1000`)).body;
      expect(r.identities.some((x) => x.user_id === "h-30"), `days=${days}`).toBe(days === 29);
      expect(r.identities.some((x) => x.user_id === "h-31"), `days=${days}`).toBe(days <= 30);
      expect(r, `days=${days}`).toEqual(gov.dormancy(ORG, T, { days, status: "dormant" }));
    }
    const machines = (await get("?identity_type=machine&status=dormant&days=14")).body;
    expect(users(machines.identities)).toEqual(["cad-1day:20"]);
    expect(machines).toEqual(gov.dormancy(ORG, T, { days: 14, type: "machine", status: "dormant" }));
    const never = (await get("?status=never_seen")).body;
    expect(users(never.identities)).toEqual(["inv-never:12", "inv-new:0"]);
  });

  it("overdue machines: silence over max(3 × median gap, 1), with at least 5 logins and a gap", async () => {
    const { body } = await get("?status=overdue");
    expect(body.identities.map((r) => [r.user_id, r.days_dormant, r.median_gap_days, r.overdue_after_days])).toEqual([
      ["cad-7", 7, 2, 6],
      ["cad-even", 7, 2, 6],
    ]);
    expect(body).toEqual(gov.dormancy(ORG, T, { status: "overdue" }));
    expect((await get("?status=overdue&identity_type=human")).body.identities).toEqual([]);
  });

  it("a login in the live tail ends dormancy at once; a failed one does not", async () => {
    const fresh = [login("h-31", 0, { created_at: new Date(Date.now() - 60_000).toISOString() }), login("h-61", 0, { outcome: "failure", created_at: new Date(Date.now() - 60_000).toISOString() })];
    await store(fresh);
    const { body } = await get("?limit=1000");
    expect(body.identities.map((r) => r.user_id)).not.toContain("h-31");
    expect(body.identities.map((r) => r.user_id)).toContain("h-61");
    expect(body).toEqual(gov.dormancy(ORG, T));
    expect((await rollup()).complete).toBe(true);
    expect((await get("?limit=1000")).body).toEqual(gov.dormancy(ORG, T));
  });
});

describe("paging and CSV", () => {
  it("pages with a relative Link: rel=next until the end; the pages are the whole list", async () => {
    const all = (await get("?limit=1000")).body.identities;
    const seen: Record<string, unknown>[] = [];
    let next: string | null = "?limit=3";
    let pages = 0;
    while (next) {
      const { body, link } = await get(next);
      seen.push(...body.identities);
      pages++;
      if (link) {
        expect(link).toMatch(/^<\/api\/organizations\/dorm\/analytics\/dormancy\?limit=3&cursor=[\w-]+>; rel="next"$/);
        next = link.slice(link.indexOf("?"), link.indexOf(">"));
      } else next = null;
    }
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 3));
  });

  it("the Link carries the query's own parameters and nothing else", async () => {
    const { link } = await get("?days=7&identity_type=machine&status=dormant&limit=1&evil=%3Cscript%3E");
    expect(link).toMatch(/^<\/api\/organizations\/dorm\/analytics\/dormancy\?days=7&identity_type=machine&status=dormant&limit=1&cursor=[\w-]+>; rel="next"$/);
  });

  it("refuses a cursor it did not issue", async () => {
    for (const bad of ["x", "WzEsMl0", btoa(JSON.stringify([1, "u", "robot"])), btoa(JSON.stringify(["1", "u", "human"]))]) {
      await expectErrorBody(await request(`/api/organizations/${ORG}/analytics/dormancy?cursor=${bad}`, { token: reader }), 400, "BAD_REQUEST", bad);
    }
  });

  it("format=csv: the whole list, RFC 4180, formula-injection-safe cells", async () => {
    const HOSTILE = "csv-org";
    const events = ['=HYPERLINK("http://evil.test","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "plain, with comma", 'say "hi"', "line\nbreak", "ümlaut 😀"].map(
      (user_id, i): EventInput => ({ id: `c-${i}`, org: HOSTILE, user_id, service_id: "=cmd|' /C calc'!A0", provider: "github", created_at: at(40 + i) }),
    );
    await ingest(events);
    const res = await request(`/api/organizations/${HOSTILE}/analytics/dormancy?format=csv&limit=1`, { token: await orgToken(HOSTILE) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="dormancy-\d{4}-\d{2}-\d{2}\.csv"$/);
    const text = await res.text();
    expect(text.endsWith("\r\n")).toBe(true);
    const lines = text.slice(0, -2).split("\r\n");
    expect(lines[0]).toBe("status,user_id,identity_type,display_name,owner,last_login_at,days_dormant,age_days,last_service_id,last_provider,logins,median_gap_days,overdue_after_days");
    expect(lines.length).toBe(1 + events.length); // limit does not apply: the whole list
    expect(lines[1]).toBe(`dormant,ümlaut 😀,human,,,${at(48)},48,,'=cmd|' /C calc'!A0,github,1,,`);
    expect(text).toContain(`dormant,"'=HYPERLINK(""http://evil.test"",""x"")",human,`);
    for (const cell of ["'+1+1", "'-2+3", "'@SUM(A1)"]) expect(text).toContain(`,${cell},`);
    expect(text).toContain(",'\tTAB,");
    expect(text).toContain(',"plain, with comma",');
    expect(text).toContain(',"say ""hi""",');
    expect(text).toContain(',"line\nbreak",');
    // no cell starts a formula
    for (const line of lines.slice(1)) {
      for (const cell of line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, "").replace(/^"|"$/g, ""))) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    }
  });
});
