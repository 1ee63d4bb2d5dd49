import { describe, expect, it } from "vitest";
import { getJson, ingest, iso, orgToken, request, rollup } from "./helpers";

describe("smoke", () => {
  it("ingests and reads trends", async () => {
    const r = await ingest([
      { id: "e1", org: "acme", user_id: "u1", service_id: "s1", provider: "github", created_at: iso("2025-01-01") },
      { id: "e2", org: "acme", user_id: "u2", service_id: "s1", provider: "google", created_at: iso("2025-01-02") },
    ]);
    expect(r).toEqual({ accepted: 2, duplicates: 0 });
    const tok = await orgToken("acme");
    const live = await getJson("/api/organizations/acme/analytics/login-trends?start_date=2025-01-01&end_date=2025-01-31", tok);
    expect(live.body).toEqual([{ date: "2025-01-01", count: 1 }, { date: "2025-01-02", count: 1 }]);
    console.log(await rollup());
    const sealed = await getJson("/api/organizations/acme/analytics/login-trends?start_date=2025-01-01&end_date=2025-01-31", tok);
    expect(sealed.body).toEqual(live.body);
    const au = await getJson("/api/organizations/acme/analytics/active-users?start_date=2025-01-01&end_date=2025-01-03", tok);
    console.log(JSON.stringify(au.body));
    const h = await request("/health");
    expect(h.status).toBe(200);
  });
});
