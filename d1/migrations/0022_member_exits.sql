CREATE TABLE `member_exits` (
	`workspace_id` text NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`profile_id` text NOT NULL,
	`seq` integer NOT NULL,
	PRIMARY KEY(`workspace_id`, `kind`, `key`, `profile_id`)
);
--> statement-breakpoint
CREATE INDEX `member_exits_profile_idx` ON `member_exits` (`workspace_id`,`profile_id`);