import { sql } from 'drizzle-orm'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

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
  /** The address in `email` was proven by a verification link (allauth's EmailAddress.verified). */
  emailVerified: integer('email_verified', { mode: 'boolean' }).notNull().default(false),
  dateJoined: integer('date_joined', { mode: 'timestamp_ms' }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
  lastLogin: integer('last_login', { mode: 'timestamp_ms' }),
  // Carried over from Django (`import django`).
  isSuperuser: integer('is_superuser', { mode: 'boolean' }).notNull().default(false),
  /** The Django user id (`auth_user.id` as text): links a simplejwt token's `user_id` to this user. */
  legacyId: text('legacy_id').unique(),
  /**
   * Milliseconds since the epoch: access tokens issued before this instant are
   * refused (a password change or reset, "log out everywhere", a
   * deactivation). 0: none. A Django simplejwt token
   * (SIMPLEJWT_COMPAT) issued at or before it is refused too. Compared with the issue instant the token's jti
   * carries (src/tokens/issue-time.ts).
   */
  tokensValidAfter: integer('tokens_valid_after').notNull().default(0)
})

/**
 * Why a refresh token row was revoked. `rotated`: exchanged for its successor
 * (a replay may get grace); `reuse`: its family was revoked because a revoked
 * token of it was presented again (theft); the others are the user's (or an
 * administrator's) doing and never get grace.
 */
export const REVOKE_REASONS = ['rotated', 'logout', 'logout_all', 'password_change', 'reuse'] as const
export type RevokeReason = typeof REVOKE_REASONS[number]

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
  /** Why it was revoked: only a `rotated` token may be replayed in the grace window. */
  revokeReason: text('revoke_reason', { enum: REVOKE_REASONS }),
  createdAt: integer('created_at').notNull(),
  /** Set by a rotation: the key (`id`) of the token this one was rotated into. */
  successorId: text('successor_id'),
  /**
   * Set by a rotation while REFRESH_REUSE_INTERVAL is on: the successor token
   * sealed (AES-256-GCM) under a key derived from THIS token's jti, which the
   * database never holds (src/tokens/refresh-grace.ts). Never the token in clear.
   */
  successorSealed: text('successor_sealed')
}, (t) => [
  // One index serves a user's tokens (logout everywhere, password change, the
  // cascade from users) and a family's (logout, reuse detection: always asked
  // with its user): one B-tree less to update on every rotation than separate
  // user and family indexes.
  index('refresh_tokens_user_family_idx').on(t.userId, t.familyId),
  index('refresh_tokens_expires_idx').on(t.expiresAt)
])

/**
 * One-time tokens sent by mail: password reset and email verification. `id` is
 * the SHA-256 of the token (the mailed value is never stored). A reset token
 * carries `password_fingerprint` (a hash of the password hash it was issued
 * under): once the password changes by any path it no longer matches, and the
 * token is void. A verification token carries the address it proves (the
 * current one, or the new one of an email change).
 */
export const accountTokens = sqliteTable('account_tokens', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  purpose: text('purpose', { enum: ['password_reset', 'email_verification', 'email_change'] }).notNull(),
  email: text('email').notNull(),
  passwordFingerprint: text('password_fingerprint'),
  /** Unix seconds. */
  expiresAt: integer('expires_at').notNull(),
  /** Unix seconds; set when the token is used (single use). */
  usedAt: integer('used_at'),
  createdAt: integer('created_at').notNull()
}, (t) => [
  index('account_tokens_user_idx').on(t.userId),
  index('account_tokens_expires_idx').on(t.expiresAt)
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
export type AccountTokenRow = typeof accountTokens.$inferSelect

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

/**
 * Passkeys (WebAuthn credentials, src/passkeys/). `id` is the credential id
 * (base64url) as the authenticator made it: unique across users. `public_key`
 * is the COSE public key (base64url); `counter` the last signature counter
 * seen (0 for authenticators that keep none); `transports` a comma list of
 * what the browser reported (hints for the next sign-in).
 */
export const passkeys = sqliteTable('passkeys', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  publicKey: text('public_key').notNull(),
  counter: integer('counter').notNull(),
  transports: text('transports').notNull().default(''),
  /** The authenticator said the credential is backed up (synced to other devices). */
  backedUp: integer('backed_up', { mode: 'boolean' }).notNull(),
  name: text('name').notNull(),
  /** Unix seconds. */
  createdAt: integer('created_at').notNull(),
  /** Unix seconds of the last sign-in with it; null until then. */
  lastUsedAt: integer('last_used_at')
}, (t) => [index('passkeys_user_idx').on(t.userId)])

export type PasskeyRow = typeof passkeys.$inferSelect

/**
 * WebAuthn challenges handed out by the options routes, kept until the
 * matching verify uses them up (deleted: single use) or they expire. In the
 * database, not in a process's memory, so that any instance can verify.
 * `user_id` binds a registration challenge to its user; null for a sign-in.
 */
export const webauthnChallenges = sqliteTable('webauthn_challenges', {
  id: text('id').primaryKey(),
  userId: text('user_id').references(() => users.id, { onDelete: 'cascade' }),
  purpose: text('purpose', { enum: ['registration', 'authentication'] }).notNull(),
  /** The challenge as sent (base64url). */
  challenge: text('challenge').notNull().unique(),
  /** Unix seconds. */
  expiresAt: integer('expires_at').notNull()
}, (t) => [index('webauthn_challenges_expires_idx').on(t.expiresAt)])

export type WebauthnChallengeRow = typeof webauthnChallenges.$inferSelect

/**
 * Secrets of the service that are never published and shared by every
 * instance through the database: `refresh_token_key` (the HMAC key that signs
 * refresh tokens, src/keys/keyring.ts) and, with JWT_KEYS_ENCRYPTION_KEY,
 * `legacy_secret` (the generated secret of the data directory's `jwt-secret`
 * file, which is then no longer read). `value` is sealed with
 * JWT_KEYS_ENCRYPTION_KEY when that is set.
 */
export const serviceSecrets = sqliteTable('service_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  /** Unix seconds. */
  createdAt: integer('created_at').notNull()
})

/**
 * One row whose `version` counts the changes to `users` made by any
 * connection: triggers (migration 0006) bump it on every UPDATE or DELETE of a
 * user, whoever runs it — this process, another instance, the sqlite3 shell.
 * The user cache (src/db/sqlite/user-cache.ts) reads it once per turn of the
 * event loop and forgets every user when it moved. Unlike `PRAGMA
 * data_version`, which changes with any other connection's commit, it does not
 * move when only tokens were written (the refresh rotations are written by a
 * connection of their own, src/db/sqlite/rotations.ts).
 */
export const userChanges = sqliteTable('user_changes', {
  id: integer('id').primaryKey(),
  version: integer('version').notNull()
})

/**
 * Sessions (docs/API.md, "Sessions"): one row per login, i.e. per refresh-token
 * family — `id` is the family id, and the `sid` claim of the family's tokens.
 * Created with the family's first token (join, login, passkey or social
 * sign-in, password change or reset, `tokens issue`, a simplejwt exchange);
 * families started before sessions existed have none (their tokens carry no
 * `sid` and are checked as before). `expires_at` follows the family's live
 * refresh token, `access_expires_at` the latest access token issued in it:
 * an ended session's id stays in every instance's denylist until then
 * (src/db/sqlite/sessions.ts). Ending one (`ended_at`) bumps
 * `user_changes` row 2 (a trigger, migration 0009), which the denylist reads
 * once per turn of the event loop, as the user cache reads row 1.
 */
export const sessions = sqliteTable('sessions', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  /** How it started: `password`, `passkey`, `social:<provider>`, `cli`, `django`, … */
  method: text('method').notNull(),
  /** The User-Agent of the login, at most 512 characters. */
  userAgent: text('user_agent'),
  /** The client's address at the login (TRUST_PROXY's rules). */
  ip: text('ip'),
  /** Unix seconds. */
  createdAt: integer('created_at').notNull(),
  /** Unix seconds: the login, then each refresh. */
  lastUsedAt: integer('last_used_at').notNull(),
  /** Unix seconds: the expiry of the family's live refresh token. */
  expiresAt: integer('expires_at').notNull(),
  /** Unix seconds: the latest `exp` of an access token issued in the session. */
  accessExpiresAt: integer('access_expires_at').notNull(),
  /** Unix seconds; null while the session lives. */
  endedAt: integer('ended_at')
}, (t) => [
  index('sessions_user_idx').on(t.userId),
  // The denylist's reload: ended sessions whose access tokens may still be alive.
  index('sessions_ended_idx').on(t.accessExpiresAt).where(sql`ended_at IS NOT NULL`)
])

export type SessionRow = typeof sessions.$inferSelect

/**
 * A user's TOTP second factor (RFC 6238, src/mfa/). `secret` is the base32
 * secret, sealed with JWT_KEYS_ENCRYPTION_KEY when that is set. A row with
 * `enabled_at` null is a setup waiting for its first code (confirm).
 * `last_step` is the last time step whose code was accepted: a code of that
 * step or an earlier one is refused (RFC 6238 §5.2, no replay), decided by a
 * conditional UPDATE so that two requests with one code cannot both pass.
 */
export const mfaTotp = sqliteTable('mfa_totp', {
  userId: text('user_id').primaryKey().references(() => users.id, { onDelete: 'cascade' }),
  secret: text('secret').notNull(),
  /** Unix seconds of the setup. */
  createdAt: integer('created_at').notNull(),
  /** Unix seconds of the confirmation; null while pending. */
  enabledAt: integer('enabled_at'),
  lastStep: integer('last_step').notNull().default(0)
})

export type MfaTotpRow = typeof mfaTotp.$inferSelect

/**
 * Recovery codes of a user with TOTP on: SHA-256 of the normalised code, never
 * the code; `used_at` set by its one use. A new set replaces the old one.
 */
export const mfaRecoveryCodes = sqliteTable('mfa_recovery_codes', {
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  codeHash: text('code_hash').notNull(),
  /** Unix seconds. */
  createdAt: integer('created_at').notNull(),
  /** Unix seconds; null while unused. */
  usedAt: integer('used_at')
}, (t) => [primaryKey({ columns: [t.userId, t.codeHash] })])

export type MfaRecoveryCodeRow = typeof mfaRecoveryCodes.$inferSelect

/**
 * A login waiting for its second factor (a password, or a social sign-in with SOCIAL_MFA): `id` is the SHA-256 of the
 * mfa_token handed out (never the token). `password_fingerprint` binds it to
 * the password it was started with (a change of password voids it);
 * `rehashed_password` is the login's re-hash of the password, applied when
 * the login finishes. `failures` counts wrong codes: at the limit it is dead.
 */
export const mfaChallenges = sqliteTable('mfa_challenges', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  passwordFingerprint: text('password_fingerprint').notNull(),
  rehashedPassword: text('rehashed_password'),
  /** The first factor's sign-in method (`password`, `social:<name>`): the session's once the code is given. */
  method: text('method').notNull().default('password'),
  failures: integer('failures').notNull().default(0),
  /** Unix seconds. */
  expiresAt: integer('expires_at').notNull(),
  createdAt: integer('created_at').notNull()
}, (t) => [index('mfa_challenges_user_idx').on(t.userId), index('mfa_challenges_expires_idx').on(t.expiresAt)])

export type MfaChallengeRow = typeof mfaChallenges.$inferSelect

/**
 * Social login (src/social/): a user's account at an OpenID Connect or OAuth
 * 2.0 provider, as django-allauth's socialaccount_socialaccount. `subject` is
 * the provider's stable id of the user (an ID token's `sub`, GitHub's numeric
 * id), unique per provider; a user links at most one account per provider.
 * `email` is the address the provider gave at the last sign-in (shown to the
 * user, never used to find the account again).
 */
export const socialIdentities = sqliteTable('social_identities', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  provider: text('provider').notNull(),
  subject: text('subject').notNull(),
  email: text('email').notNull().default(''),
  /** Unix seconds. */
  createdAt: integer('created_at').notNull(),
  /** Unix seconds of the last sign-in with it; null until then (an imported or just linked identity). */
  lastUsedAt: integer('last_used_at')
}, (t) => [
  uniqueIndex('social_identities_subject_idx').on(t.provider, t.subject),
  uniqueIndex('social_identities_user_provider_idx').on(t.userId, t.provider)
])

export type SocialIdentityRow = typeof socialIdentities.$inferSelect
