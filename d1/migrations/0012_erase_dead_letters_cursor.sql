ALTER TABLE `deletions` ADD `dead_letters_after` integer;--> statement-breakpoint
CREATE INDEX `ingest_dead_letters_workspace_id_idx` ON `ingest_dead_letters` (`workspace_id`,`id`);