import { env } from "cloudflare:test";
import { expect } from "vitest";
import { putInventory } from "../src/governance/inventory";
import { makeOrgReport, makePlatformReport } from "../src/governance/reports";
import { DAY_MS, orgDb, testDatabases } from "./helpers";
import { SAMPLE_USER, sampleReportId } from "./routes";

/**
 * Creates what the sample path values of test/routes.ts name, for one organization (run
 * after its events are stored), so an authorized request to every route answers its
 * success status: the inventory identity `SAMPLE_USER` (DELETE …/identities/:user_id) and
 * today's report of the organization and of the platform (…/reports/:id), all at a fixed
 * time of the day, so that two organizations with the same data get the same rows. The
 * organization's analytics are unchanged by it.
 */
export async function prepareRouteData(org: string): Promise<void> {
  const db = await orgDb(org);
  const day = Date.parse(`${sampleReportId()}T00:00:00Z`) / DAY_MS;
  const at = day * DAY_MS + 6 * 3_600_000;
  await putInventory(db, org, [{ user_id: SAMPLE_USER, identity_type: "machine", display_name: "Route sample", owner: "platform-team" }], at);
  await makeOrgReport(db, org, day, at);
  // The platform report is made once a day (a second call reads every organization's health,
  // then inserts nothing: ON CONFLICT DO NOTHING), so once it exists there is nothing to do.
  const platformReport = await env.DB
    .prepare("SELECT 1 AS one FROM reports WHERE scope = 'platform' AND org_id = 0 AND day = ?1")
    .bind(day)
    .first();
  if (!platformReport) expect(await makePlatformReport(testDatabases(), day, at)).toBe("created");
}
