import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { loginpulseClient } from "../src/client";
import { addDays, ingestToken, iso, orgToken, platformToken, request, todayDate } from "./helpers";

/** The typed client (hono/client over AppType), calling the worker under test. */
const client = (token?: string) =>
  loginpulseClient("https://loginpulse.test", {
    fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(input, init)),
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });

const today = todayDate();
const day = (n: number) => addDays(today, -n);

beforeAll(async () => {
  const res = await client(await ingestToken()).api.events.$post({
    json: {
      events: [
        { id: "c-1", org: "client-org", user_id: "ana", service_id: "web", provider: "github", created_at: iso(day(2)) },
        { id: "c-2", org: "client-org", user_id: "ana", service_id: "web", provider: "github", created_at: iso(day(1)) },
        { id: "c-3", org: "client-org", user_id: "bot", identity_type: "machine", service_id: "api", provider: "client-credentials", created_at: iso(day(1)) },
      ],
    },
  });
  expect(res.status).toBe(202);
  expect(await res.json()).toEqual({ accepted: 3, duplicates: 0 });
});

describe("typed client (hc<AppType>) against the running worker", () => {
  it("reads an organization's analytics with typed parameters and responses, equal to the raw API", async () => {
    const api = client(await orgToken("client-org"));
    const org = api.api.organizations[":org_slug"].analytics;
    const query = { start_date: day(6), end_date: today };

    const trends = await org["login-trends"].$get({ param: { org_slug: "client-org" }, query });
    expect(trends.status).toBe(200);
    if (!trends.ok) throw new Error("unreachable");
    const rows = await trends.json();
    expectTypeOf(rows).toEqualTypeOf<{ date: string; count: number }[]>();
    expect(rows).toEqual([
      { date: day(2), count: 1 },
      { date: day(1), count: 2 },
    ]);

    const summary = await org.summary.$get({ param: { org_slug: "client-org" }, query: { ...query, identity_type: "machine" } });
    if (!summary.ok) throw new Error(`summary answered ${summary.status}`);
    const body = await summary.json();
    expectTypeOf(body.metrics.logins.change_pct).toEqualTypeOf<number | null>();
    const raw = await request(`/api/organizations/client-org/analytics/summary?start_date=${day(6)}&end_date=${today}&identity_type=machine`, { token: await orgToken("client-org") });
    expect(body).toEqual(await raw.json());
    expect(body.metrics.logins.current).toBe(1);
  });

  it("error answers are typed as the contract's error", async () => {
    const res = await client(await orgToken("someone-else")).api.organizations[":org_slug"].analytics["logins-by-provider"].$get({ param: { org_slug: "client-org" }, query: {} });
    expect(res.status).toBe(403);
    if (res.status === 403) {
      const err = await res.json();
      expectTypeOf(err.error_code).toBeString();
      expect(err.error_code).toBe("FORBIDDEN");
    }
  });

  it("the platform routes and /health", async () => {
    const api = client(await platformToken());
    const orgs = await api.api.platform.analytics.organizations.$get({ query: { sort: "slug", order: "asc", limit: "50" } });
    if (!orgs.ok) throw new Error(`organizations answered ${orgs.status}`);
    const list = await orgs.json();
    expect(list.organizations.map((o) => o.org)).toContain("client-org");
    const health = await client().health.$get();
    expect(await health.json()).toEqual({ status: "ok" });
  });

  it("the governance routes: settings, dormancy, organization health", async () => {
    const api = client(await platformToken());
    const org = api.api.organizations[":org_slug"];
    const saved = await org.settings.$put({ param: { org_slug: "client-org" }, json: { machine_thresholds: [7, 30] } });
    if (!saved.ok) throw new Error(`settings answered ${saved.status}`);
    const settings = await saved.json();
    expectTypeOf(settings.machine_thresholds).toEqualTypeOf<number[]>();
    expect(settings.machine_thresholds).toEqual([7, 30]);

    const dormancy = await org.analytics.dormancy.$get({ param: { org_slug: "client-org" }, query: { identity_type: "machine", days: "7" } });
    if (!dormancy.ok) throw new Error(`dormancy answered ${dormancy.status}`);
    const dormant = await dormancy.json();
    const raw = await request("/api/organizations/client-org/analytics/dormancy?identity_type=machine&days=7", { token: await platformToken() });
    expect(dormant).toEqual(await raw.json());

    const health = await api.api.platform.analytics["organization-health"].$get({ query: { org: "client-org" } });
    if (!health.ok) throw new Error(`organization-health answered ${health.status}`);
    const labels = await health.json();
    expectTypeOf(labels.total).toEqualTypeOf<number>();
    expect(labels.organizations.map((o) => o.org)).toEqual(["client-org"]);
  });
});
