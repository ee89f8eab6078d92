import { sql } from 'drizzle-orm'
import { bigint, boolean, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core'
import { REVOKE_REASONS, type AccountTokenRow, type MfaChallengeRow, type MfaRecoveryCodeRow, type MfaTotpRow, type PasskeyRow, type RefreshTokenRow, type SigningKeyRow, type SocialIdentityRow, type UserRow, type WebauthnChallengeRow } from '../sqlite/schema.js'

/*
 * The PostgreSQL twin of src/db/sqlite/schema.ts: same tables, same column names, and row
 * types identical to the SQLite ones (checked below at compile time), so the
 * Store interface hands callers the same objects whichever database is used.
 * `date_joined`/`last_login` are `timestamptz(3)` (→ Date, millisecond precision
 * like the SQLite `timestamp_ms` columns); token times stay Unix seconds, as
 * bigint read back as a JS number.
 */

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  /** Stored lower-cased; the unique index makes the check race-free. */
  email: text('email').notNull().unique(),
  /** PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). */
  passwordHash: text('password_hash').notNull(),
  name: text('name').notNull().default(''),
  gender: text('gender', { enum: ['male', 'female'] }),
  dateOfBirth: text('date_of_birth'),
  phoneNumber: text('phone_number'),
  isActive: boolean('is_active').notNull().default(true),
  isStaff: boolean('is_staff').notNull().default(false),
  emailVerified: boolean('email_verified').notNull().default(false),
  dateJoined: timestamp('date_joined', { withTimezone: true, precision: 3, mode: 'date' }).notNull().defaultNow(),
  lastLogin: timestamp('last_login', { withTimezone: true, precision: 3, mode: 'date' }),
  // Carried over from Django (`import django`).
  isSuperuser: boolean('is_superuser').notNull().default(false),
  /** The Django user id (`auth_user.id` as text): links a simplejwt token's `user_id` to this user. */
  legacyId: text('legacy_id').unique(),
  /** Milliseconds since the epoch: access tokens issued before it are refused (see src/db/sqlite/schema.ts). */
  tokensValidAfter: bigint('tokens_valid_after', { mode: 'number' }).notNull().default(0)
})

/** See src/db/sqlite/schema.ts: `id` is the SHA-256 of the token's `jti`; `family_id` groups one login's rotation chain. */
export const refreshTokens = pgTable('refresh_tokens', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  familyId: text('family_id').notNull(),
  /** Unix seconds, as the token's `exp`. */
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  /** Unix seconds; null while the token may still be used. */
  revokedAt: bigint('revoked_at', { mode: 'number' }),
  /** See src/db/sqlite/schema.ts: only a `rotated` token may be replayed in the grace window. */
  revokeReason: text('revoke_reason', { enum: REVOKE_REASONS }),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  /** See src/db/sqlite/schema.ts: the successor's key, and the successor sealed under this token's jti. */
  successorId: text('successor_id'),
  successorSealed: text('successor_sealed')
}, (t) => [
  // One index serves a user's tokens (logout everywhere, password change, the
  // cascade from users) and a family's (logout, reuse detection: always asked
  // with its user): one B-tree less to update on every rotation than separate
  // user and family indexes.
  index('refresh_tokens_user_family_idx').on(t.userId, t.familyId),
  index('refresh_tokens_expires_idx').on(t.expiresAt)
])

/** See src/db/sqlite/schema.ts: mailed one-time tokens (reset, verification), stored as SHA-256. */
export const accountTokens = pgTable('account_tokens', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  purpose: text('purpose', { enum: ['password_reset', 'email_verification', 'email_change'] }).notNull(),
  email: text('email').notNull(),
  passwordFingerprint: text('password_fingerprint'),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  usedAt: bigint('used_at', { mode: 'number' }),
  createdAt: bigint('created_at', { mode: 'number' }).notNull()
}, (t) => [
  index('account_tokens_user_idx').on(t.userId),
  index('account_tokens_expires_idx').on(t.expiresAt)
])

/** See src/db/sqlite/schema.ts: simplejwt refresh tokens already exchanged, by SHA-256 of their jti. */
export const legacyTokens = pgTable('legacy_tokens', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  familyId: text('family_id').notNull(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull()
}, (t) => [index('legacy_tokens_expires_idx').on(t.expiresAt)])

/** See src/db/sqlite/schema.ts: the signing keys; the one with `retired_at` null signs. */
export const signingKeys = pgTable('signing_keys', {
  kid: text('kid').primaryKey(),
  algorithm: text('algorithm', { enum: ['HS256', 'EdDSA', 'ES256', 'RS256'] }).notNull(),
  secret: text('secret').notNull(),
  publicJwk: text('public_jwk'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  retiredAt: bigint('retired_at', { mode: 'number' })
}, () => [
  uniqueIndex('signing_keys_one_current_idx').on(sql`(1)`).where(sql`retired_at IS NULL`)
])

/** See src/db/sqlite/schema.ts: passkeys (WebAuthn credentials), `id` the credential id. */
export const passkeys = pgTable('passkeys', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  publicKey: text('public_key').notNull(),
  counter: bigint('counter', { mode: 'number' }).notNull(),
  transports: text('transports').notNull().default(''),
  backedUp: boolean('backed_up').notNull(),
  name: text('name').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  lastUsedAt: bigint('last_used_at', { mode: 'number' })
}, (t) => [index('passkeys_user_idx').on(t.userId)])

/** See src/db/sqlite/schema.ts: WebAuthn challenges, single use, shared by every instance. */
export const webauthnChallenges = pgTable('webauthn_challenges', {
  id: text('id').primaryKey(),
  userId: text('user_id').references(() => users.id, { onDelete: 'cascade' }),
  purpose: text('purpose', { enum: ['registration', 'authentication'] }).notNull(),
  challenge: text('challenge').notNull().unique(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull()
}, (t) => [index('webauthn_challenges_expires_idx').on(t.expiresAt)])

/** See src/db/sqlite/schema.ts: the service's unpublished secrets (sealed with JWT_KEYS_ENCRYPTION_KEY when set). */
export const serviceSecrets = pgTable('service_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull()
})

/** See src/db/sqlite/schema.ts: social login identities (provider + subject), one per provider and user. */
export const socialIdentities = pgTable('social_identities', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  provider: text('provider').notNull(),
  subject: text('subject').notNull(),
  email: text('email').notNull().default(''),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  lastUsedAt: bigint('last_used_at', { mode: 'number' })
}, (t) => [
  uniqueIndex('social_identities_subject_idx').on(t.provider, t.subject),
  uniqueIndex('social_identities_user_provider_idx').on(t.userId, t.provider)
])

// Compile-time proof that both dialects produce the same row objects.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const sameUser: Same<typeof users.$inferSelect, UserRow> = true
const sameToken: Same<typeof refreshTokens.$inferSelect, RefreshTokenRow> = true
void sameUser
const sameAccountToken: Same<typeof accountTokens.$inferSelect, AccountTokenRow> = true
void sameToken
void sameAccountToken
const sameKey: Same<typeof signingKeys.$inferSelect, SigningKeyRow> = true
void sameKey
const samePasskey: Same<typeof passkeys.$inferSelect, PasskeyRow> = true
void samePasskey
const sameChallenge: Same<typeof webauthnChallenges.$inferSelect, WebauthnChallengeRow> = true
void sameChallenge

/** See src/db/sqlite/schema.ts: sessions, one per refresh-token family (`id` = family id = the tokens' `sid`). */
export const sessions = pgTable('sessions', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  method: text('method').notNull(),
  userAgent: text('user_agent'),
  ip: text('ip'),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  lastUsedAt: bigint('last_used_at', { mode: 'number' }).notNull(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  accessExpiresAt: bigint('access_expires_at', { mode: 'number' }).notNull(),
  endedAt: bigint('ended_at', { mode: 'number' })
}, (t) => [
  index('sessions_user_idx').on(t.userId),
  // The denylist's reload: ended sessions whose access tokens may still be alive.
  index('sessions_ended_idx').on(t.accessExpiresAt).where(sql`ended_at IS NOT NULL`)
])

const sameSession: Same<typeof sessions.$inferSelect, import('../sqlite/schema.js').SessionRow> = true
void sameSession
/** See src/db/sqlite/schema.ts: a user's TOTP secret (sealed when JWT_KEYS_ENCRYPTION_KEY is set), pending while `enabled_at` is null. */
export const mfaTotp = pgTable('mfa_totp', {
  userId: text('user_id').primaryKey().references(() => users.id, { onDelete: 'cascade' }),
  secret: text('secret').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  enabledAt: bigint('enabled_at', { mode: 'number' }),
  lastStep: bigint('last_step', { mode: 'number' }).notNull().default(0)
})

/** See src/db/sqlite/schema.ts: recovery codes by SHA-256, each used once. */
export const mfaRecoveryCodes = pgTable('mfa_recovery_codes', {
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  codeHash: text('code_hash').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  usedAt: bigint('used_at', { mode: 'number' })
}, (t) => [primaryKey({ columns: [t.userId, t.codeHash] })])

/** See src/db/sqlite/schema.ts: password logins waiting for their second factor, by SHA-256 of the mfa_token. */
export const mfaChallenges = pgTable('mfa_challenges', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  passwordFingerprint: text('password_fingerprint').notNull(),
  rehashedPassword: text('rehashed_password'),
  method: text('method').notNull().default('password'),
  failures: integer('failures').notNull().default(0),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull()
}, (t) => [index('mfa_challenges_user_idx').on(t.userId), index('mfa_challenges_expires_idx').on(t.expiresAt)])

const sameTotp: Same<typeof mfaTotp.$inferSelect, MfaTotpRow> = true
void sameTotp
const sameRecoveryCode: Same<typeof mfaRecoveryCodes.$inferSelect, MfaRecoveryCodeRow> = true
void sameRecoveryCode
const sameMfaChallenge: Same<typeof mfaChallenges.$inferSelect, MfaChallengeRow> = true
void sameMfaChallenge
const sameSocialIdentity: Same<typeof socialIdentities.$inferSelect, SocialIdentityRow> = true
void sameSocialIdentity
