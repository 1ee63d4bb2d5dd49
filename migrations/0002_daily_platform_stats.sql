CREATE TABLE `daily_platform_stats` (
	`day` integer PRIMARY KEY NOT NULL,
	`logins` integer NOT NULL,
	`failed_logins` integer NOT NULL
);
--> statement-breakpoint
-- Backfill from the days already rolled up; days recomputed later rewrite their rows.
INSERT INTO `daily_platform_stats` (`day`, `logins`, `failed_logins`)
SELECT `day`, SUM(`logins`), SUM(`failed_logins`) FROM `daily_org_stats` GROUP BY `day`;
