-- SQLite adds a NOT NULL column only with a default; every insert sets it (`members.ts`).
ALTER TABLE `member_exits` ADD `exited_at` integer NOT NULL DEFAULT 0;--> statement-breakpoint
-- Exits kept before this may still guard against a change on its way: their age counts from now, not from 0.
UPDATE `member_exits` SET `exited_at` = unixepoch() * 1000;--> statement-breakpoint
CREATE INDEX `member_exits_exited_at_idx` ON `member_exits` (`exited_at`);
