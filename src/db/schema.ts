import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  /** Stored lower-cased; the unique index makes the check race-free. */
  email: text('email').notNull().unique(),
  /** PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
  passwordHash: text('password_hash').notNull(),
  name: text('name').notNull().default(''),
  gender: text('gender', { enum: ['male', 'female'] }),
  dateOfBirth: text('date_of_birth'),
  phoneNumber: text('phone_number'),
  isActive: integer('is_active', { mode: 'boolean' }).notNull().default(true),
  isStaff: integer('is_staff', { mode: 'boolean' }).notNull().default(false),
  dateJoined: integer('date_joined', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
  lastLogin: integer('last_login', { mode: 'timestamp_ms' })
})

/**
 * One row per refresh token ever issued. `id` is the SHA-256 of the token's
 * `jti`, never the token itself: a copy of the database cannot be replayed.
 * `family_id` groups the tokens descended from one login (rotation chain).
 */
export const refreshTokens = sqliteTable('refresh_tokens', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  familyId: text('family_id').notNull(),
  /** Unix seconds, as the token's `exp`. */
  expiresAt: integer('expires_at').notNull(),
  /** Unix seconds; null while the token may still be used. */
  revokedAt: integer('revoked_at'),
  createdAt: integer('created_at').notNull()
}, (t) => [
  // One index serves a user's tokens (logout everywhere, password change, the
  // cascade from users) and a family's (logout, reuse detection: always asked
  // with its user): one B-tree less to update on every rotation than separate
  // user and family indexes.
  index('refresh_tokens_user_family_idx').on(t.userId, t.familyId),
  index('refresh_tokens_expires_idx').on(t.expiresAt)
])

export type UserRow = typeof users.$inferSelect
export type NewUserRow = typeof users.$inferInsert
export type RefreshTokenRow = typeof refreshTokens.$inferSelect

/**
 * The keys that sign and verify tokens (src/keys/). `secret` is the private
 * material — an HS256 secret, or a PKCS#8 PEM private key — sealed with
 * JWT_KEYS_ENCRYPTION_KEY when that is set. Exactly one row signs: the one
 * whose `retired_at` is null (a unique partial index makes two impossible,
 * however many instances start or rotate at once). A retired key keeps
 * verifying until every token it signed has expired.
 */
export const signingKeys = sqliteTable('signing_keys', {
  kid: text('kid').primaryKey(),
  algorithm: text('algorithm', { enum: ['HS256', 'EdDSA', 'ES256', 'RS256'] }).notNull(),
  secret: text('secret').notNull(),
  /** The public JWK (JSON), published at /.well-known/jwks.json; null for HS256. */
  publicJwk: text('public_jwk'),
  /** Unix seconds. */
  createdAt: integer('created_at').notNull(),
  /** Unix seconds when a newer key took over signing; null for the signing key. */
  retiredAt: integer('retired_at')
}, () => [
  uniqueIndex('signing_keys_one_current_idx').on(sql`(1)`).where(sql`retired_at IS NULL`)
])

export type SigningKeyRow = typeof signingKeys.$inferSelect
