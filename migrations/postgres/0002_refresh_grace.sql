ALTER TABLE "refresh_tokens" ADD COLUMN "revoke_reason" text;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "successor_id" text;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD COLUMN "successor_sealed" text;