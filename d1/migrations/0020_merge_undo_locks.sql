CREATE TABLE `merge_undo_locks` (
	`workspace_id` text PRIMARY KEY NOT NULL,
	`merge_id` text NOT NULL,
	`started_at` integer NOT NULL
);
