CREATE TABLE `deletions` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`status` text NOT NULL,
	`profile_ids` text,
	`identifiers` text,
	`suppressed_count` integer,
	`graph_at` integer,
	`profiles_at` integer,
	`memberships_at` integer,
	`destinations_at` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`next_attempt_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`completed_at` integer
);
--> statement-breakpoint
CREATE INDEX `deletions_due_idx` ON `deletions` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `suppression_hashes` (
	`workspace_id` text NOT NULL,
	`hash` text NOT NULL,
	`type` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `hash`)
);
