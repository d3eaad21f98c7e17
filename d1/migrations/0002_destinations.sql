CREATE TABLE `destinations` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`config` text NOT NULL,
	`audiences` text NOT NULL,
	`traits` text NOT NULL,
	`enabled` integer NOT NULL,
	`inbound_secret` text NOT NULL,
	`poll_cursor` text,
	`delivered` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`last_success_at` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `destinations_workspace_idx` ON `destinations` (`workspace_id`);--> statement-breakpoint
CREATE TABLE `sync_dead_letters` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`destination_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`op` text NOT NULL,
	`error` text NOT NULL,
	`created_at` integer NOT NULL,
	`replayed_at` integer
);
--> statement-breakpoint
CREATE INDEX `sync_dead_letters_destination_idx` ON `sync_dead_letters` (`destination_id`,`replayed_at`);--> statement-breakpoint
CREATE TABLE `sync_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`destination_id` text NOT NULL,
	`at` integer NOT NULL,
	`profile_id` text NOT NULL,
	`audience` text,
	`action` text NOT NULL,
	`outcome` text NOT NULL,
	`attempts` integer NOT NULL,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `sync_log_destination_idx` ON `sync_log` (`destination_id`,`id`);--> statement-breakpoint
CREATE INDEX `sync_log_profile_idx` ON `sync_log` (`destination_id`,`profile_id`,`id`);--> statement-breakpoint
CREATE TABLE `vendor_ids` (
	`destination_id` text NOT NULL,
	`email` text NOT NULL,
	`vendor_id` text NOT NULL,
	PRIMARY KEY(`destination_id`, `email`)
);
--> statement-breakpoint
CREATE INDEX `vendor_ids_vendor_idx` ON `vendor_ids` (`destination_id`,`vendor_id`);