ALTER TABLE `definitions` ADD `build_run` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `definitions` ADD `build_active_at` integer;