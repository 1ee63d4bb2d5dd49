-- Dormancy's counts per threshold and type come from this index alone (a range on
-- last_login_at, the type read from the index, no row lookups); the maximum last login per
-- organization still reads it as before.
DROP INDEX `identities_org_last_login`;--> statement-breakpoint
CREATE INDEX `identities_org_last_login_type` ON `identities` (`org_id`,`last_login_at`,`identity_type`);
