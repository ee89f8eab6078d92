import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'

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
  lastLogin: integer('last_login', { mode: 'timestamp_ms' }),
  // Carried over from Django (`import django`, issue 14).
  isSuperuser: integer('is_superuser', { mode: 'boolean' }).notNull().default(false),
  emailVerified: integer('email_verified', { mode: 'boolean' }).notNull().default(false),
  /** The Django user id (`auth_user.id` as text): links a simplejwt token's `user_id` to this user. */
  legacyId: text('legacy_id').unique()
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

/**
 * simplejwt refresh tokens already exchanged (SIMPLEJWT_COMPAT): each is
 * accepted once. `id` is the SHA-256 of the token's jti; kept until `expires_at`.
 * A second presentation revokes the login (family) it was exchanged for.
 */
export const legacyTokens = sqliteTable('legacy_tokens', {
  id: text('id').primaryKey(),
  /** The login it was exchanged for: revoked if the token is presented again. */
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  familyId: text('family_id').notNull(),
  /** Unix seconds, as the token's `exp`. */
  expiresAt: integer('expires_at').notNull()
}, (t) => [index('legacy_tokens_expires_idx').on(t.expiresAt)])

export type UserRow = typeof users.$inferSelect
export type NewUserRow = typeof users.$inferInsert
export type RefreshTokenRow = typeof refreshTokens.$inferSelect
