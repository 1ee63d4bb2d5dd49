-- Nothing reads daily_activity by day across organizations any more (the overview walks each
-- organization's days by the primary key): one index fewer to maintain on every fold.
DROP INDEX `daily_activity_day`;--> statement-breakpoint
-- The 56-day window joins the kept window lengths (src/metrics/active-windows.ts): organization
-- health reads |W ∪ P| (its 28-day window and the 28 days before) from it. Backfilled from the
-- login days already folded, as 0003 did for the other lengths; the fold maintains it from now on.
INSERT INTO `active_window_deltas` (`org_id`, `identity_type`, `window_days`, `day`, `delta`)
WITH days AS (SELECT DISTINCT org_id, identity_id, identity_type, day FROM daily_activity WHERE logins > 0),
spans AS (SELECT org_id, identity_type, day, LEAD(day) OVER (PARTITION BY identity_id ORDER BY day) AS next_day FROM days),
entries(org_id, identity_type, at, d) AS (
  SELECT org_id, identity_type, day, 1 FROM spans
  UNION ALL SELECT org_id, identity_type, MIN(day + 56, COALESCE(next_day, day + 56)), -1 FROM spans
)
SELECT org_id, identity_type, 56, at, SUM(d) FROM (SELECT * FROM entries UNION ALL SELECT 0, identity_type, at, d FROM entries)
GROUP BY org_id, identity_type, at HAVING SUM(d) <> 0;
