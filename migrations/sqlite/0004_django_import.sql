CREATE TABLE `legacy_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`family_id` text NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `legacy_tokens_expires_idx` ON `legacy_tokens` (`expires_at`);--> statement-breakpoint
ALTER TABLE `users` ADD `is_superuser` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `legacy_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `users_legacy_id_unique` ON `users` (`legacy_id`);