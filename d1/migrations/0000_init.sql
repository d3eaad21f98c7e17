CREATE TABLE `api_keys` (
	`key_hash` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`kind` text NOT NULL,
	`source_id` text,
	`prefix` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`source_id`) REFERENCES `sources`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `api_keys_workspace_idx` ON `api_keys` (`workspace_id`);--> statement-breakpoint
CREATE TABLE `dropped_links` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`type` text NOT NULL,
	`value` text NOT NULL,
	`owner_profile` text,
	`message_id` text,
	`rule` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `dropped_links_unique` ON `dropped_links` (`workspace_id`,`profile_id`,`type`,`value`,`rule`);--> statement-breakpoint
CREATE INDEX `dropped_links_owner_idx` ON `dropped_links` (`owner_profile`);--> statement-breakpoint
CREATE TABLE `identifiers` (
	`workspace_id` text NOT NULL,
	`type` text NOT NULL,
	`value` text NOT NULL,
	`profile_id` text NOT NULL,
	`first_seen` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `identifiers_unique` ON `identifiers` (`workspace_id`,`type`,`value`);--> statement-breakpoint
CREATE INDEX `identifiers_profile_idx` ON `identifiers` (`profile_id`);--> statement-breakpoint
CREATE TABLE `identity_write_guard` (
	`ok` integer NOT NULL,
	CONSTRAINT "stale_read" CHECK(ok = 1)
);
--> statement-breakpoint
CREATE TABLE `merges` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`from_profile` text NOT NULL,
	`into_profile` text NOT NULL,
	`message_id` text,
	`rule` text NOT NULL,
	`detail` text,
	`created_at` integer NOT NULL,
	`undone_at` integer
);
--> statement-breakpoint
CREATE INDEX `merges_into_idx` ON `merges` (`into_profile`);--> statement-breakpoint
CREATE UNIQUE INDEX `merges_from_unique` ON `merges` (`from_profile`);--> statement-breakpoint
CREATE TABLE `profiles` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`merged_into` text,
	`merge_count` integer DEFAULT 0 NOT NULL,
	`identifier_count` integer DEFAULT 0 NOT NULL,
	`deleted_at` integer,
	`version` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `profiles_workspace_idx` ON `profiles` (`workspace_id`,`id`);--> statement-breakpoint
CREATE TABLE `sources` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `suppressions` (
	`workspace_id` text NOT NULL,
	`type` text NOT NULL,
	`value` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `type`, `value`)
);
--> statement-breakpoint
CREATE TABLE `workspaces` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`identity_rules` text,
	`created_at` integer NOT NULL
);
