CREATE TABLE `identity_inventory` (
	`identity_id` integer PRIMARY KEY NOT NULL,
	`org_id` integer NOT NULL,
	`display_name` text,
	`owner` text,
	`created_at` integer NOT NULL,
	`deprovisioned_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`identity_id`) REFERENCES `identities`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `identity_inventory_org` ON `identity_inventory` (`org_id`);--> statement-breakpoint
CREATE TABLE `org_health` (
	`org_id` integer NOT NULL,
	`day` integer NOT NULL,
	`label` text NOT NULL,
	`signup_without_return` integer NOT NULL,
	`inputs` text NOT NULL,
	`recorded_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`)
);
--> statement-breakpoint
CREATE TABLE `org_settings` (
	`org_id` integer PRIMARY KEY NOT NULL,
	`human_thresholds` text NOT NULL,
	`machine_thresholds` text NOT NULL,
	`report_identity_types` text NOT NULL,
	`webhook_url` text,
	`webhook_secret` text,
	`previous_webhook_secret` text,
	`previous_secret_expires_at` integer,
	`webhook_disabled_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "org_settings_webhook_has_secret" CHECK("org_settings"."webhook_url" IS NULL OR "org_settings"."webhook_secret" IS NOT NULL)
);
--> statement-breakpoint
CREATE TABLE `reactivations` (
	`identity_id` integer NOT NULL,
	`day` integer NOT NULL,
	`org_id` integer NOT NULL,
	`previous_day` integer NOT NULL,
	`gap_days` integer NOT NULL,
	`login_at` integer NOT NULL,
	`previous_login_at` integer NOT NULL,
	`service_id` integer,
	`provider` text,
	`ip_address` text,
	`country` text,
	PRIMARY KEY(`identity_id`, `day`)
);
--> statement-breakpoint
CREATE INDEX `reactivations_org_day` ON `reactivations` (`org_id`,`day`);--> statement-breakpoint
CREATE TABLE `reports` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`scope` text NOT NULL,
	`org_id` integer NOT NULL,
	`day` integer NOT NULL,
	`created_at` integer NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reports_scope_org_day` ON `reports` (`scope`,`org_id`,`day`);--> statement-breakpoint
CREATE TABLE `webhook_attempts` (
	`report_id` integer NOT NULL,
	`attempt` integer NOT NULL,
	`attempted_at` integer NOT NULL,
	`status` integer,
	`error` text,
	`duration_ms` integer NOT NULL,
	PRIMARY KEY(`report_id`, `attempt`)
);
--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`report_id` integer PRIMARY KEY NOT NULL,
	`org_id` integer NOT NULL,
	`state` text NOT NULL,
	`attempts` integer NOT NULL,
	`last_status` integer,
	`last_error` text,
	`next_attempt_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`report_id`) REFERENCES `reports`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_due` ON `webhook_deliveries` (`state`,`next_attempt_at`);