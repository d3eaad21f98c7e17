CREATE TABLE `idempotent_requests` (
	`workspace_id` text NOT NULL,
	`key` text NOT NULL,
	`fingerprint` text NOT NULL,
	`started_at` integer NOT NULL,
	`status` integer,
	`content_type` text,
	`body` text,
	PRIMARY KEY(`workspace_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotent_requests_started_idx` ON `idempotent_requests` (`started_at`);