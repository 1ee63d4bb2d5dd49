CREATE TABLE `daily_org_logins` (
	`org_id` integer NOT NULL,
	`day` integer NOT NULL,
	`logins` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`)
);
--> statement-breakpoint
CREATE TABLE `weekly_cohort_activity` (
	`org_id` integer NOT NULL,
	`identity_type` text NOT NULL,
	`cohort_week` integer NOT NULL,
	`week` integer NOT NULL,
	`active` integer NOT NULL,
	PRIMARY KEY(`org_id`, `identity_type`, `cohort_week`, `week`)
);
--> statement-breakpoint
CREATE INDEX `weekly_cohort_activity_zero` ON `weekly_cohort_activity` (`org_id`) WHERE active = 0;--> statement-breakpoint
-- Backfill from what is already folded (the fold maintains both tables from now on):
-- each identity's login weeks under its first login's week; logins per organization and day.
INSERT INTO `weekly_cohort_activity` (`org_id`, `identity_type`, `cohort_week`, `week`, `active`)
SELECT w.`org_id`, i.`identity_type`, i.`first_day` - (i.`first_day` + 3) % 7, w.`week`, COUNT(*)
FROM (SELECT DISTINCT `org_id`, `identity_id`, `day` - (`day` + 3) % 7 AS `week` FROM `daily_activity` WHERE `logins` > 0) w
JOIN `identities` i ON i.`id` = w.`identity_id`
GROUP BY 1, 2, 3, 4;--> statement-breakpoint
INSERT INTO `daily_org_logins` (`org_id`, `day`, `logins`)
SELECT `org_id`, `day`, SUM(`logins`) FROM `daily_activity` GROUP BY `org_id`, `day` HAVING SUM(`logins`) > 0;
