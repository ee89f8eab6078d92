DROP INDEX "refresh_tokens_user_idx";--> statement-breakpoint
DROP INDEX "refresh_tokens_family_idx";--> statement-breakpoint
CREATE INDEX "refresh_tokens_user_family_idx" ON "refresh_tokens" USING btree ("user_id","family_id");