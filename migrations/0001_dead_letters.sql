CREATE TABLE `dead_letters` (
	`message_id` text PRIMARY KEY NOT NULL,
	`queue` text NOT NULL,
	`body` blob NOT NULL,
	`attempts` integer NOT NULL,
	`parked_at` integer NOT NULL
);
