// Bundled by scripts/bench/build.mjs (esbuild) into .bench/queries.mjs so the bench runs
// the exact SQL the endpoints run: these are the real query builders from src/, not copies.
export { createDb } from "../../src/db/client";
export {
  loginTrends,
  loginsByService,
  loginsByProvider,
  recentLogins,
  activeUsers,
  userGrowth,
  summaryTotals,
  lifecycle,
  retention,
} from "../../src/analytics/org-queries";
export { organizationsEngagement, platformLoginActivity, platformOverview } from "../../src/analytics/platform-queries";
export { runRollup } from "../../src/rollup/rollup";
export { dormancy } from "../../src/governance/dormancy";
export { readReactivations } from "../../src/governance/reactivations";
export { normalizeEvents, storeEvents } from "../../src/ingest/ingest";
export { DAY_MS, dayOf, dayToDate, isoWeekStart } from "../../src/lib/dates";
export { ORG_WINDOW_DAYS, resolveRange } from "../../src/analytics/range";
