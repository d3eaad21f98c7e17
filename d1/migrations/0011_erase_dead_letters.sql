ALTER TABLE `deletions` ADD `dead_letters_at` integer;--> statement-breakpoint
CREATE INDEX `sync_dead_letters_profile_idx` ON `sync_dead_letters` (`profile_id`);--> statement-breakpoint
CREATE INDEX `sync_log_at_idx` ON `sync_log` (`at`);--> statement-breakpoint
-- Erasures done before this step existed kept their dead letters; they show the step at their completion, as before.
UPDATE `deletions` SET `dead_letters_at` = `completed_at` WHERE `status` = 'done';
