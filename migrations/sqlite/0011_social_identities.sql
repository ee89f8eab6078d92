CREATE TABLE `social_identities` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`provider` text NOT NULL,
	`subject` text NOT NULL,
	`email` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `social_identities_subject_idx` ON `social_identities` (`provider`,`subject`);--> statement-breakpoint
CREATE UNIQUE INDEX `social_identities_user_provider_idx` ON `social_identities` (`user_id`,`provider`);