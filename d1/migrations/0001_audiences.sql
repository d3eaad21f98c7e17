CREATE TABLE `audience_members` (
	`workspace_id` text NOT NULL,
	`audience` text NOT NULL,
	`profile_id` text NOT NULL,
	`since` integer NOT NULL,
	`seq` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `audience`, `profile_id`)
);
--> statement-breakpoint
CREATE INDEX `audience_members_profile_idx` ON `audience_members` (`workspace_id`,`profile_id`);--> statement-breakpoint
CREATE TABLE `computed_trait_members` (
	`workspace_id` text NOT NULL,
	`trait` text NOT NULL,
	`profile_id` text NOT NULL,
	`since` integer NOT NULL,
	`seq` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `trait`, `profile_id`)
);
--> statement-breakpoint
CREATE INDEX `computed_trait_members_profile_idx` ON `computed_trait_members` (`workspace_id`,`profile_id`);--> statement-breakpoint
CREATE TABLE `definitions` (
	`workspace_id` text NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`name` text,
	`description` text,
	`definition` text NOT NULL,
	`version` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`build_version` integer NOT NULL,
	`build_total` integer DEFAULT 0 NOT NULL,
	`build_processed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`workspace_id`, `kind`, `key`)
);
--> statement-breakpoint
ALTER TABLE `workspaces` ADD `definitions_version` integer DEFAULT 0 NOT NULL;