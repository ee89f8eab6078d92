CREATE TABLE `user_changes` (
	`id` integer PRIMARY KEY NOT NULL,
	`version` integer NOT NULL
);
--> statement-breakpoint
-- Written by hand after drizzle-kit's table (it has no triggers): see userChanges in src/db/schema.ts.
INSERT INTO `user_changes` (`id`, `version`) VALUES (1, 0);
--> statement-breakpoint
CREATE TRIGGER `users_changed_on_update` AFTER UPDATE ON `users` BEGIN
	UPDATE `user_changes` SET `version` = `version` + 1 WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `users_changed_on_delete` AFTER DELETE ON `users` BEGIN
	UPDATE `user_changes` SET `version` = `version` + 1 WHERE `id` = 1;
END;
