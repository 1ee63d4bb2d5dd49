-- The reactivations read (and the reports' list) walks an organization's newest logins first and
-- stops after a page; by day it had to sort the whole range. A row's login is its day's first, so
-- a day range is a login_at range.
DROP INDEX `reactivations_org_day`;--> statement-breakpoint
CREATE INDEX `reactivations_org_login` ON `reactivations` (`org_id`,`login_at`);
