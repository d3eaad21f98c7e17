CREATE TABLE `ingest_dead_letters` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`workspace_id` text,
	`queue_message_id` text NOT NULL,
	`jobs` text NOT NULL,
	`message_count` integer NOT NULL,
	`error` text NOT NULL,
	`attempts` integer NOT NULL,
	`created_at` integer NOT NULL,
	`replayed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ingest_dead_letters_message_unique` ON `ingest_dead_letters` (`queue_message_id`);--> statement-breakpoint
CREATE INDEX `ingest_dead_letters_workspace_idx` ON `ingest_dead_letters` (`workspace_id`,`replayed_at`,`id`);--> statement-breakpoint
CREATE INDEX `ingest_dead_letters_pending_idx` ON `ingest_dead_letters` (`replayed_at`,`id`);--> statement-breakpoint
DROP INDEX `merges_from_unique`;--> statement-breakpoint
CREATE UNIQUE INDEX `merges_from_unique` ON `merges` (`from_profile`) WHERE undone_at IS NULL;