CREATE TABLE `active_window_deltas` (
	`org_id` integer NOT NULL,
	`identity_type` text NOT NULL,
	`window_days` integer NOT NULL,
	`day` integer NOT NULL,
	`delta` integer NOT NULL,
	PRIMARY KEY(`org_id`, `identity_type`, `window_days`, `day`)
);
--> statement-breakpoint
CREATE INDEX `active_window_deltas_zero` ON `active_window_deltas` (`org_id`) WHERE delta = 0;--> statement-breakpoint
CREATE INDEX `daily_activity_identity_day` ON `daily_activity` (`identity_id`,`day`);--> statement-breakpoint
-- Backfill from the login days already folded (the fold maintains the deltas from now on);
-- organization 0 holds the platform's deltas (src/metrics/active-windows.ts).
INSERT INTO `active_window_deltas` (`org_id`, `identity_type`, `window_days`, `day`, `delta`)
WITH days AS (SELECT DISTINCT org_id, identity_id, identity_type, day FROM daily_activity WHERE logins > 0),
spans AS (SELECT org_id, identity_type, day, LEAD(day) OVER (PARTITION BY identity_id ORDER BY day) AS next_day FROM days),
lengths(l) AS (VALUES (7), (14), (28), (30), (31), (90), (365)),
entries(org_id, identity_type, l, at, d) AS (
  SELECT org_id, identity_type, l, day, 1 FROM spans, lengths
  UNION ALL SELECT org_id, identity_type, l, MIN(day + l, COALESCE(next_day, day + l)), -1 FROM spans, lengths
)
SELECT org_id, identity_type, l, at, SUM(d) FROM (SELECT * FROM entries UNION ALL SELECT 0, identity_type, l, at, d FROM entries)
GROUP BY org_id, identity_type, l, at HAVING SUM(d) <> 0;
