ALTER TABLE `refresh_tokens` ADD `revoke_reason` text;--> statement-breakpoint
ALTER TABLE `refresh_tokens` ADD `successor_id` text;--> statement-breakpoint
ALTER TABLE `refresh_tokens` ADD `successor_sealed` text;