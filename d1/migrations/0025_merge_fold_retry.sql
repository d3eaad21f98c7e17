DROP INDEX `merges_unfolded`;--> statement-breakpoint
ALTER TABLE `merges` ADD `fold_retry_at` integer;--> statement-breakpoint
CREATE INDEX `merges_fold_retry` ON `merges` (`fold_retry_at`) WHERE folded_at IS NULL AND undone_at IS NULL AND fold_retry_at IS NOT NULL;--> statement-breakpoint
CREATE INDEX `merges_unfolded` ON `merges` (`created_at`) WHERE folded_at IS NULL AND undone_at IS NULL AND fold_retry_at IS NULL;