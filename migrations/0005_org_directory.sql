CREATE TABLE `org_directory` (
	`slug` text PRIMARY KEY NOT NULL,
	`shard` text NOT NULL,
	`placed_at` integer NOT NULL
);
