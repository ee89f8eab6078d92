CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`method` text NOT NULL,
	`user_agent` text,
	`ip` text,
	`created_at` integer NOT NULL,
	`last_used_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`access_expires_at` integer NOT NULL,
	`ended_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sessions_user_idx` ON `sessions` (`user_id`);--> statement-breakpoint
CREATE INDEX `sessions_ended_idx` ON `sessions` (`access_expires_at`) WHERE ended_at IS NOT NULL;--> statement-breakpoint
-- Written by hand after drizzle-kit's table (it has no triggers), as in 0006: row 2 of
-- user_changes counts ended sessions, read by the denylist (src/db/sqlite/sessions.ts).
INSERT INTO `user_changes` (`id`, `version`) VALUES (2, 0);
--> statement-breakpoint
CREATE TRIGGER `sessions_ended` AFTER UPDATE OF `ended_at` ON `sessions` WHEN NEW.`ended_at` IS NOT NULL AND OLD.`ended_at` IS NULL BEGIN
	UPDATE `user_changes` SET `version` = `version` + 1 WHERE `id` = 2;
END;
