CREATE TABLE `erased_profiles` (
	`workspace_id` text NOT NULL,
	`profile_id` text NOT NULL,
	`deletion_id` text NOT NULL,
	PRIMARY KEY(`workspace_id`, `profile_id`)
);
--> statement-breakpoint
DROP INDEX `deletions_profile_idx`;
--> statement-breakpoint
-- Deletions whose graph step ran before this table existed: their profiles, as the step recorded them.
INSERT INTO `erased_profiles` (`workspace_id`, `profile_id`, `deletion_id`)
SELECT d.`workspace_id`, j.value, d.`id` FROM `deletions` d, json_each(d.`profile_ids`) j
WHERE d.`profile_ids` IS NOT NULL ORDER BY d.`created_at` ON CONFLICT DO NOTHING;
