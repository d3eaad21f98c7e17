ALTER TABLE `definitions` ADD `build_queued_at` integer;--> statement-breakpoint
-- Builds that exist already were queued by the code of their time.
UPDATE `definitions` SET `build_queued_at` = `updated_at`;
