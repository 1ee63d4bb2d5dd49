import { beforeAll, describe, expect, it } from "vitest";
import { labelHealth } from "../src/governance/health";
import { expectErrorBody } from "./contract";
import { type EventInput, getJson, ingest, orgToken, platformToken, request, rollup } from "./helpers";
import { dateOf, dayOfMs, healthOf, Oracle } from "./oracle";

/**
 * Organization health: each label and the flag at its threshold and one identity short of
 * it, hand-computed; the inputs beside every label; live and sealed; the model agrees.
 *
 * Window W = the 28 days ending today, P = the 28 before. Shapes of identity:
 *   both         a login in P (day −40) and in W (day −10): returning
 *   prevOnly     a login in P only: newly dormant
 *   fresh        first login in W (day −5): new
 *   resurrect    a login long before P (day −100) and in W: resurrecting
 *   old          a login long before P only: known, inactive
 */

const T = dayOfMs(Date.now());
const at = (daysAgo: number, i = 0) => `${dateOf(T - daysAgo)}T${String(10 + (i % 10)).padStart(2, "0")}:00:00Z`;

interface Shape {
  both?: number;
  prevOnly?: number;
  fresh?: number;
  resurrect?: number;
  old?: number;
  /** Extra logins in W for the first "both" identity. */
  heavy?: number;
}

const oracle = new Oracle();
let seq = 0;

function eventsFor(org: string, s: Shape): EventInput[] {
  const out: EventInput[] = [];
  const add = (user: string, daysAgo: number, i = 0) => out.push({ id: `h-${++seq}`, org, user_id: user, service_id: "web", provider: "github", created_at: at(daysAgo, i) });
  for (let i = 0; i < (s.both ?? 0); i++) {
    add(`both-${i}`, 40);
    add(`both-${i}`, 10);
  }
  for (let i = 0; i < (s.heavy ?? 0); i++) add("both-0", 1 + (i % 20), i);
  for (let i = 0; i < (s.prevOnly ?? 0); i++) add(`prev-${i}`, 40);
  for (let i = 0; i < (s.fresh ?? 0); i++) add(`fresh-${i}`, 5);
  for (let i = 0; i < (s.resurrect ?? 0); i++) {
    add(`res-${i}`, 100);
    add(`res-${i}`, 5);
  }
  for (let i = 0; i < (s.old ?? 0); i++) add(`old-${i}`, 100);
  return out;
}

/** [org, shape, expected label, expected flag, a few inputs to check by hand] */
const CASES: [string, Shape, string, boolean, Record<string, unknown>][] = [
  ["h-dormant", { prevOnly: 3 }, "dormant", false, { active: 0, previous_active: 3, newly_dormant: 3, quick_ratio: 0 }],
  // growth: +10% is expanding, +0% with no new is stagnating
  ["h-up10", { both: 10, resurrect: 1 }, "expanding", false, { active: 11, previous_active: 10, active_change_pct: 10, new: 0, resurrecting: 1 }],
  ["h-flat", { both: 10 }, "stagnating", false, { active: 10, previous_active: 10, active_change_pct: 0, new: 0 }],
  // decline: −10% is contracting, −9.1% is not (and with no new it stagnates)
  ["h-down10", { both: 9, prevOnly: 1 }, "contracting", false, { active: 9, previous_active: 10, active_change_pct: -10, newly_dormant: 1, quick_ratio: 0 }],
  ["h-down9", { both: 10, prevOnly: 1 }, "stagnating", false, { active: 10, previous_active: 11, active_change_pct: -9.1 }],
  // new share: 1 new of 10 actives (10%) is expanding; 1 of 11 (9.1%) is not
  ["h-new10", { both: 9, prevOnly: 1, fresh: 1 }, "expanding", false, { active: 10, previous_active: 10, new: 1, quick_ratio: 1 }],
  ["h-new9", { both: 10, prevOnly: 1, fresh: 1 }, "stable", false, { active: 11, previous_active: 11, new: 1, top_identities: 1, known: 12, inactive_known: 1 }],
  // concentration: the top 1 of 11 makes 80% of 50 logins (fragmenting) / 39 of 49 (79.6%: stable)
  ["h-top80", { both: 10, prevOnly: 1, fresh: 1, heavy: 39 }, "fragmenting", false, { logins: 50, top_identities: 1, top_share: 0.8 }],
  ["h-top79", { both: 10, prevOnly: 1, fresh: 1, heavy: 38 }, "stable", false, { logins: 49, top_identities: 1, top_share: 0.7959 }],
  // inactive known: 12 inactive of 23 known (> half) is fragmenting; 11 of 22 is not
  ["h-inactive", { both: 10, prevOnly: 1, fresh: 1, old: 11 }, "fragmenting", false, { active: 11, known: 23, inactive_known: 12 }],
  ["h-inactive-1", { both: 10, prevOnly: 1, fresh: 1, old: 10 }, "stable", false, { active: 11, known: 22, inactive_known: 11 }],
  // signup without return: 9 new of 10 with 1 returning (10% < 20%) flags; 8 new and 2 returning (20%) does not
  ["h-signup", { both: 1, fresh: 9 }, "expanding", true, { active: 10, new: 9, returning: 1 }],
  ["h-signup-1", { both: 2, fresh: 8 }, "expanding", false, { active: 10, new: 8, returning: 2 }],
];

let owner: string;

beforeAll(async () => {
  owner = await platformToken();
  const events = CASES.flatMap(([org, shape]) => eventsFor(org, shape));
  oracle.post(events);
  await ingest(events);
});

async function healthRows(query = "") {
  const { status, body } = await getJson<{ organizations: (Record<string, unknown> & { org: string })[]; total: number }>(
    `/api/platform/analytics/organization-health?${query.includes("limit=") ? "" : "limit=1000"}${query}`,
    owner,
  );
  expect(status).toBe(200);
  return body;
}

describe("organization health", () => {
  const check = async (label: string) => {
    const body = await healthRows();
    expect(body.total).toBe(CASES.length);
    for (const [org, , expected, flag, inputs] of CASES) {
      const row = body.organizations.find((r) => r.org === org)!;
      expect({ org, label: row.label, flag: row.signup_without_return }, label).toEqual({ org, label: expected, flag });
      expect(row.inputs, `${label} ${org}`).toMatchObject(inputs);
      expect(row, `${label} ${org} (model)`).toEqual({ org, ...healthOf(oracle, org, T) });
      expect(typeof row.reason).toBe("string");
    }
  };

  it("each label and the flag at its threshold and one identity short of it (live)", () => check("live"));
  it("the same after the rollup", async () => {
    expect((await rollup()).complete).toBe(true);
    await check("sealed");
  });

  it("the reason states the rule and its numbers", async () => {
    const rows = (await healthRows()).organizations;
    const reason = (org: string) => rows.find((r) => r.org === org)!.reason;
    expect(reason("h-up10")).toBe("active identities up 10% (≥ 10%)");
    expect(reason("h-down10")).toBe("active identities down 10% (≥ 10%)");
    expect(reason("h-top80")).toBe("the top 1 of 11 active identities make 80% of logins (≥ 80%)");
    expect(reason("h-inactive")).toBe("12 of 23 known identities had no login in the last 28 days (> 50%)");
    expect(reason("h-dormant")).toBe("no logins in the last 28 days");
  });

  it("filters by label, sorts (null lowest, ties by slug) and pages", async () => {
    const all = (await healthRows()).organizations;
    const fragmenting = await healthRows("&label=fragmenting");
    expect(fragmenting.organizations.map((r) => r.org)).toEqual(["h-inactive", "h-top80"]);
    expect(fragmenting.total).toBe(2);
    const byActive = (await healthRows("&sort=active&order=desc&limit=3&offset=1")).organizations.map((r) => r.org);
    const expected = [...all].sort((a, b) => (b.inputs as { active: number }).active - (a.inputs as { active: number }).active || (a.org < b.org ? -1 : 1)).slice(1, 4).map((r) => r.org);
    expect(byActive).toEqual(expected);
    const byRatio = (await healthRows("&sort=quick_ratio&order=asc")).organizations.map((r) => (r.inputs as { quick_ratio: number | null }).quick_ratio);
    expect(byRatio.slice(0, byRatio.filter((v) => v === null).length).every((v) => v === null)).toBe(true);
    await expectErrorBody(await request("/api/platform/analytics/organization-health?label=thriving", { token: owner }), 400, "BAD_REQUEST");
    await expectErrorBody(await request("/api/platform/analytics/organization-health?org=nope", { token: owner }), 404, "NOT_FOUND");
    await expectErrorBody(await request("/api/platform/analytics/organization-health", { token: await orgToken("h-up10") }), 403, "FORBIDDEN");
  });

  it("the platform organizations list carries the same health", async () => {
    const health = new Map((await healthRows()).organizations.map(({ org, ...h }) => [org, h]));
    const { body } = await getJson<{ organizations: { org: string; health: unknown }[] }>("/api/platform/analytics/organizations?limit=1000", owner);
    expect(body.organizations.length).toBe(CASES.length);
    for (const row of body.organizations) expect(row.health, row.org).toEqual(health.get(row.org));
  });

  it("a window ending in the past: the labels of that day", async () => {
    const end = T - 20;
    const body = await healthRows(`&end_date=${dateOf(end)}`);
    for (const [org] of CASES) expect(body.organizations.find((r) => r.org === org), org).toEqual({ org, ...healthOf(oracle, org, end) });
  });

  it("labelHealth is pure: the same counts, the same answer", () => {
    const counts = { active: 10, previous_active: 10, new: 0, resurrecting: 0, newly_dormant: 0, logins: 10, top_identities: 1, top_logins: 1, known: 10 };
    expect(labelHealth(counts)).toEqual(labelHealth({ ...counts }));
    expect(labelHealth(counts).label).toBe("stagnating");
  });
});
