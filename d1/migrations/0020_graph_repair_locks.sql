CREATE TABLE `graph_repair_locks` (
	`workspace_id` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`started_at` integer NOT NULL
);
