ALTER TABLE `merges` ADD `folded_at` integer;--> statement-breakpoint
-- Nothing recorded folds before this: every older merge would look owed, and the first sweeps would wake every
-- merged-away object the workspace ever had (each one already asked by its merge job, its alarm and the retry queue).
-- They count as known to nobody (0); an operator can set a range back to NULL to have the sweep ask those objects.
UPDATE `merges` SET `folded_at` = 0;--> statement-breakpoint
CREATE INDEX `merges_unfolded` ON `merges` (`created_at`) WHERE folded_at IS NULL AND undone_at IS NULL;
