CREATE TABLE `deletion_destinations` (
	`deletion_id` text NOT NULL,
	`destination_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`deletion_id`, `destination_id`)
);
--> statement-breakpoint
CREATE INDEX `deletion_destinations_profile_idx` ON `deletion_destinations` (`profile_id`,`destination_id`);--> statement-breakpoint
ALTER TABLE `deletions` ADD `destinations_queued_at` integer;