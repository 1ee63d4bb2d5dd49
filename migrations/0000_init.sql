CREATE TABLE `daily_activity` (
	`org_id` integer NOT NULL,
	`day` integer NOT NULL,
	`identity_id` integer NOT NULL,
	`service_id` integer NOT NULL,
	`provider` text NOT NULL,
	`identity_type` text NOT NULL,
	`logins` integer NOT NULL,
	`failures` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`, `identity_id`, `service_id`, `provider`)
);
--> statement-breakpoint
CREATE INDEX `daily_activity_day` ON `daily_activity` (`day`);--> statement-breakpoint
CREATE TABLE `daily_org_stats` (
	`org_id` integer NOT NULL,
	`day` integer NOT NULL,
	`identity_type` text NOT NULL,
	`logins` integer NOT NULL,
	`failed_logins` integer NOT NULL,
	`dau` integer NOT NULL,
	`new_users` integer NOT NULL,
	`returning_users` integer NOT NULL,
	`wau` integer NOT NULL,
	`mau` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`, `identity_type`)
);
--> statement-breakpoint
CREATE INDEX `daily_org_stats_day` ON `daily_org_stats` (`day`);--> statement-breakpoint
CREATE TABLE `daily_provider_stats` (
	`org_id` integer NOT NULL,
	`day` integer NOT NULL,
	`provider` text NOT NULL,
	`logins` integer NOT NULL,
	`failed_logins` integer NOT NULL,
	`dau` integer NOT NULL,
	`new_users` integer NOT NULL,
	`returning_users` integer NOT NULL,
	`wau` integer NOT NULL,
	`mau` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`, `provider`)
);
--> statement-breakpoint
CREATE TABLE `daily_service_stats` (
	`org_id` integer NOT NULL,
	`day` integer NOT NULL,
	`service_id` integer NOT NULL,
	`logins` integer NOT NULL,
	`failed_logins` integer NOT NULL,
	`dau` integer NOT NULL,
	`new_users` integer NOT NULL,
	`returning_users` integer NOT NULL,
	`wau` integer NOT NULL,
	`mau` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`, `service_id`)
);
--> statement-breakpoint
CREATE TABLE `dirty_days` (
	`org_id` integer NOT NULL,
	`day` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`)
);
--> statement-breakpoint
CREATE TABLE `identities` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`user_id` text NOT NULL,
	`identity_type` text NOT NULL,
	`first_login_at` integer,
	`first_day` integer,
	`last_login_at` integer,
	`last_service_id` integer,
	`last_provider` text,
	`login_count` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `identities_org_user` ON `identities` (`org_id`,`user_id`,`identity_type`);--> statement-breakpoint
CREATE INDEX `identities_org_first_day` ON `identities` (`org_id`,`first_day`);--> statement-breakpoint
CREATE INDEX `identities_org_last_login` ON `identities` (`org_id`,`last_login_at`);--> statement-breakpoint
CREATE TABLE `login_events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`event_id` text NOT NULL,
	`identity_id` integer NOT NULL,
	`service_id` integer NOT NULL,
	`provider` text NOT NULL,
	`outcome` text NOT NULL,
	`created_at` integer NOT NULL,
	`received_at` integer NOT NULL,
	`ip_address` text,
	`user_agent` text,
	`country` text,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`identity_id`) REFERENCES `identities`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`service_id`) REFERENCES `services`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `login_events_org_event` ON `login_events` (`org_id`,`event_id`);--> statement-breakpoint
CREATE INDEX `login_events_org_outcome_created` ON `login_events` (`org_id`,`outcome`,`created_at`);--> statement-breakpoint
CREATE TABLE `organizations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`slug` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `organizations_slug_unique` ON `organizations` (`slug`);--> statement-breakpoint
CREATE TABLE `rollup_state` (
	`key` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `services` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`external_id` text NOT NULL,
	`name` text,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `services_org_external` ON `services` (`org_id`,`external_id`);