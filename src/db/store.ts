import type { AccountTokenRow, MfaChallengeRow, MfaTotpRow, PasskeyRow, RefreshTokenRow, RevokeReason, SigningKeyRow, SocialIdentityRow, UserRow, WebauthnChallengeRow } from './sqlite/schema.js'

export type { RevokeReason }

export type User = UserRow
export type SigningKey = SigningKeyRow

export interface NewUser {
  id: string
  email: string
  passwordHash: string
  name: string
  gender: 'male' | 'female' | null
  dateOfBirth: string | null
  phoneNumber: string | null
  dateJoined: Date
  lastLogin: Date | null
  /** False when omitted. */
  emailVerified?: boolean
  isStaff?: boolean
}

/** The fields a user may edit on their own profile (PATCH /account/mypage). */
export interface ProfileChange {
  name?: string
  gender?: 'male' | 'female' | null
  dateOfBirth?: string | null
  phoneNumber?: string | null
}

export type AccountToken = AccountTokenRow

export type Passkey = PasskeyRow
export type NewPasskey = Omit<PasskeyRow, 'lastUsedAt'>
export type WebauthnChallenge = WebauthnChallengeRow
export type ChallengePurpose = WebauthnChallengeRow['purpose']

/**
 * What removing a passkey did: `removed`; `not_found` (no such passkey of
 * that user); `last_login_method` (refused: the user would have no way left
 * to log in, as `keep` decided; nothing written).
 */
export type PasskeyRemoval = 'removed' | 'not_found' | 'last_login_method'

export type SocialIdentity = SocialIdentityRow
export type NewSocialIdentity = Omit<SocialIdentityRow, 'lastUsedAt'> & { lastUsedAt?: number | null }
/** What a user would have left to log in with after a removal, for the `keep` callbacks below. */
export interface LoginMethodsLeft { passkeys: number, identities: number }
/** Removing a social identity: as PasskeyRemoval. */
export type SocialIdentityRemoval = PasskeyRemoval
export type AccountTokenPurpose = AccountTokenRow['purpose']

/** A user's TOTP row: `secret` as stored (sealed when an encryption key is configured); pending while `enabledAt` is null. */
export type MfaTotp = MfaTotpRow
/** A password login waiting for its second factor (src/mfa/mfa.ts). */
export type MfaChallenge = MfaChallengeRow
export type NewMfaChallenge = Omit<MfaChallengeRow, 'failures' | 'method'> & { method?: string }

/** The mailed tokens a new password deletes (a reset token is void by its fingerprint already). */
export const DIES_WITH_PASSWORD: AccountTokenPurpose[] = ['email_change', 'email_verification']

/**
 * The domain's last word on a mailed token, asked inside the transaction that
 * redeems it, with the user's row as that transaction reads it: true lets the
 * redemption go ahead, false refuses it (nothing is written).
 */
export type AcceptAccountToken = (token: AccountToken, user: User) => boolean

export type NewAccountToken = {
  /** SHA-256 of the mailed token. */
  id: string
  userId: string
  purpose: AccountTokenPurpose
  /** The address the token was mailed to (for a verification: the address it proves). */
  email: string
  /**
   * Reset tokens: a hash of the password hash they were issued under;
   * email-change tokens: of the password hash and the login address
   * (src/accounts/account-tokens.ts).
   */
  passwordFingerprint: string | null
  /** Unix seconds. */
  expiresAt: number
  createdAt: number
}

// A type alias, not an interface, so that it is assignable to Record<string, unknown>.
export type NewRefreshToken = {
  /** SHA-256 of the token's jti. */
  id: string
  userId: string
  familyId: string
  /** Unix seconds. */
  expiresAt: number
  createdAt: number
  /**
   * The session this first token of a family starts (its row, id = familyId,
   * is stored in the same transaction). Without it the family has no session
   * row: its tokens are never refused as of an ended session.
   */
  session?: NewSessionInfo
}

/** What a login says of the session it starts (src/sessions/sessions.ts). */
export type NewSessionInfo = {
  /** `password`, `passkey`, `social:<provider>`, `cli`, `django`, … */
  method: string
  userAgent: string | null
  ip: string | null
  /** Unix seconds: the `exp` of the login's access token. */
  accessExpiresAt: number
}

export type Session = import('./sqlite/schema.js').SessionRow

/**
 * The token a rotation stores: it joins the family of the token it replaces.
 * `accessExpiresAt` (Unix seconds; the successor access token's `exp`, plus
 * the grace window) moves the session's `access_expires_at` forward, as the
 * rotation moves its `last_used_at` and `expires_at`.
 */
export type RotationSuccessor = Omit<NewRefreshToken, 'familyId' | 'session'> & { accessExpiresAt?: number }

/** One rotation as the stores' group commits queue it: Store.refreshTokens.rotate's arguments. */
export interface RotationRequest { id: string, next: RotationSuccessor, nowSeconds: number, grace: RotateGrace | undefined }

/** The grace window of a rotation (REFRESH_REUSE_INTERVAL > 0). */
export interface RotateGrace {
  /** Seconds after a rotation during which a replay of the rotated token gets its successor back. */
  interval: number
  /** The successor (`next`) token sealed under the presented token's jti (src/tokens/refresh-grace.ts). */
  sealed: string
}

export type NewSigningKey = {
  kid: string
  algorithm: SigningKey['algorithm']
  /** Private material as stored (sealed when an encryption key is configured). */
  secret: string
  publicJwk: string | null
  /** Unix seconds. */
  createdAt: number
}

/** What rotating a presented refresh token did. */
export type RotateOutcome =
  // It was live: now revoked (reason `rotated`), and its successor `next` stored.
  | { kind: 'rotated' }
  // It was rotated less than `grace.interval` seconds ago into the family's
  // still-live token: nothing was written; `successorId` and `sealed` (as
  // stored by that rotation) let the caller answer with that same successor.
  | { kind: 'replayed', successorId: string, sealed: string }
  // It had been revoked already (and no grace applies): its whole family is now revoked.
  | { kind: 'reused' }
  // No such token of `next.userId` (never issued here, purged, or another user's).
  | { kind: 'unknown' }

/** A user carried over from Django (`import django`): created, or updated when imported before (src/db/user-import.ts). */
export type ImportedUser = NewUser & {
  isActive: boolean
  isStaff: boolean
  isSuperuser: boolean
  emailVerified: boolean
  /** Django's user id, as text. */
  legacyId: string
}

/**
 * What importing one user did. `updated` (the user of that same Django id,
 * imported before) keeps the service's own password hash once the user has
 * logged in here (it is no longer a Django hash). `email_taken`: an account
 * with that email exists without that Django id, and is left alone.
 */
export type ImportOutcome = 'created' | 'updated' | 'legacy_id_taken' | 'email_taken'

/** Rows deleted by a purge. */
export interface PurgeCounts {
  /** Expired refresh-token rows, revoked ones included. */
  expired: number
  /** Of those, how many had been revoked. */
  revoked: number
  /** Exchanged simplejwt tokens past their expiry. */
  legacyTokens: number
}

/**
 * Persistence as the domain needs it. Methods are async so that a networked
 * database can stand behind the same interface; each multi-step write is one
 * transaction. A method fails with the domain's errors (src/errors.ts):
 * StorageUnavailableError when the storage cannot be used right now (the
 * driver's error as its cause), EmailTakenError where said below; anything
 * else is a bug, thrown as the driver's own error.
 */
export interface Store {
  users: {
    /**
     * Throws EmailTakenError when the (lower-cased) email exists. With
     * `firstToken`, the user and that refresh token are stored in one
     * transaction: a join that fails leaves no user behind.
     */
    create: (user: NewUser, firstToken?: NewRefreshToken) => Promise<User>
    byId: (id: string) => Promise<User | undefined>
    /**
     * The same answer at once, for a store that has it without waiting (SQLite:
     * its user cache, else a synchronous read). Absent where every read is I/O
     * (PostgreSQL). May throw a storage error.
     */
    byIdNow?: (id: string) => User | undefined
    byEmail: (email: string) => Promise<User | undefined>
    /**
     * Sets last_login, and replaces the hash when it was re-hashed with current
     * parameters. With `token` (the login's first refresh token), both are
     * stored in one transaction: a login that fails changes nothing.
     */
    recordLogin: (id: string, at: Date, rehashed?: string, token?: NewRefreshToken) => Promise<void>
    /**
     * A deactivation also deletes the user's pending email-change tokens. With
     * `tokensValidAfter` (milliseconds; a deactivation), access tokens issued
     * before that instant are refused from then on, also after a reactivation.
     */
    setActive: (id: string, active: boolean, tokensValidAfter?: number) => Promise<void>
    /** Deletes the user; its refresh and account tokens go with it (foreign keys cascade). */
    remove: (id: string) => Promise<void>
    /** Changes the given profile fields; the updated user, or undefined when there is no such user. */
    updateProfile: (id: string, change: ProfileChange) => Promise<User | undefined>
    /**
     * Sets the login email and whether it is verified. Throws EmailTakenError
     * when another user has that (lower-cased) email.
     */
    setEmail: (id: string, email: string, verified: boolean) => Promise<void>
    /**
     * New hash and `tokensValidAfter`, every refresh token of the user revoked (reason
     * `password_change`: no grace window) and the user's pending
     * email-change and verification tokens deleted, one transaction; with `next` (a
     * password change: the new login's first token), that token is stored in
     * it too. Without it (the operators' `users set-password`) no login starts.
     * Access tokens issued before `tokensValidAfter` (milliseconds; by default
     * the start of `nowSeconds`) are refused from then on.
     */
    setPassword: (id: string, passwordHash: string, nowSeconds: number, next?: NewRefreshToken, tokensValidAfter?: number) => Promise<void>

    // Operators (the command line).
    /** Users in the order they joined (date joined, then id), `limit` of them after the first `offset`. */
    list: (limit: number, offset?: number) => Promise<User[]>
    count: () => Promise<number>
    byLegacyId: (legacyId: string) => Promise<User | undefined>
    /** The users among these (lower-cased) emails, in no particular order; the unknown ones are simply absent. */
    byEmails: (emails: string[]) => Promise<User[]>
    /** One transaction: users whose email exists are skipped; returns how many were inserted. */
    insertMany: (users: NewUser[]) => Promise<number>
    /** Marks these (lower-cased) addresses verified where they are not yet (`seed --verified`); returns how many changed. */
    verifyEmails: (emails: string[]) => Promise<number>
    /**
     * The password hash of some imported user (a legacy id) that is still not
     * this service's argon2id (a Django hash no login has replaced yet), or
     * undefined: what login's failure floor learns its cost from at start.
     */
    foreignHashSample: () => Promise<string | undefined>
    /** One transaction: each user inserted, or updated when its email and Django id are those of one user (see ImportOutcome, src/db/user-import.ts). */
    importMany: (users: ImportedUser[], isForeignHash: (hash: string) => boolean) => Promise<ImportOutcome[]>
  }
  refreshTokens: {
    byId: (id: string) => Promise<RefreshTokenRow | undefined>
    /**
     * One atomic decision (the caller need not read the row first). If `id` is a live token
     * of `next.userId`: revokes it (reason `rotated`, recording `next.id` and
     * `grace.sealed` on it) and stores `next` in its family → `rotated`. Else,
     * with `grace`, if `id` was revoked as `rotated` less than `grace.interval`
     * seconds before `nowSeconds` and its successor is still live (neither revoked nor
     * itself rotated) → `replayed`, writing nothing. Else, if `id` is a token of
     * that user, revokes its family (reason `reuse`: theft) → `reused`; if not
     * → `unknown`. Of N concurrent calls for one id, at most one returns
     * `rotated`; with grace the others (all seeing that rotation) return
     * `replayed` — also across processes sharing the database.
     */
    rotate: (id: string, next: RotationSuccessor, nowSeconds: number, grace?: RotateGrace) => Promise<RotateOutcome>
    /** Revokes the live tokens of one login (a family always belongs to one user); `reason` defaults to `logout`. */
    revokeFamily: (userId: string, familyId: string, nowSeconds: number, reason?: RevokeReason) => Promise<number>
    /**
     * Revokes every live token of the user; `reason` defaults to `logout_all`.
     * With `tokensValidAfter` (milliseconds; "log out everywhere"), the user's
     * access tokens issued before that instant (and Django tokens, SIMPLEJWT_COMPAT) are refused too, in the same transaction.
     */
    revokeUser: (userId: string, nowSeconds: number, reason?: RevokeReason, tokensValidAfter?: number) => Promise<number>
    /**
     * Deletes expired rows (live or revoked) and expired exchanged simplejwt
     * tokens. A revoked row that has not expired is kept: presenting it again
     * must still be recognised as reuse.
     */
    purge: (nowSeconds: number) => Promise<PurgeCounts>
    /** Operators (`tokens issue`): stores these first tokens of new logins in one transaction; returns how many. */
    insertMany: (rows: NewRefreshToken[]) => Promise<number>
  }
  accountTokens: {
    /**
     * Stores a mailed token. A new email_change token supersedes the user's
     * earlier ones: they are deleted in the same transaction (one pending
     * change at a time, the last one asked for).
     */
    create: (token: NewAccountToken) => Promise<void>
    byId: (id: string) => Promise<AccountTokenRow | undefined>
    /**
     * A password reset, one transaction. The token `id` must be a
     * password_reset token, unused and unexpired at `nowSeconds`, of the user
     * `next.userId`, and `accept` must approve it. Then the token is marked
     * used, the user gets `passwordHash`, a verified email and `tokensValidAfter`, every refresh
     * token of theirs is revoked (reason `password_change`: no grace window),
     * their pending email-change and verification tokens are deleted, and
     * `next` (the new login's first token) is stored. Returns the updated
     * user; undefined when refused, with nothing written. A failure at any step
     * writes nothing either: the token stays usable. Of N concurrent calls for
     * one id at most one succeeds (single use), across processes too. Access
     * tokens issued before `tokensValidAfter` (milliseconds; by default the
     * start of `nowSeconds`) are refused from then on.
     */
    resetPassword: (id: string, passwordHash: string, next: NewRefreshToken, nowSeconds: number, accept: AcceptAccountToken, tokensValidAfter?: number) => Promise<User | undefined>
    /**
     * An address verification, one transaction. The token `id`, of purpose
     * email_verification or email_change (one lookup for both), unused and
     * unexpired at `nowSeconds`, approved by `accept`, is marked used and its address
     * becomes its user's email, verified. Returns the updated user; undefined
     * when refused, with nothing written. Throws EmailTakenError when another
     * user has that address, also with nothing written (the token stays
     * usable). Single use as resetPassword.
     */
    verifyEmail: (id: string, nowSeconds: number, accept: AcceptAccountToken) => Promise<User | undefined>
    /** Deletes rows whose token has expired; returns how many. */
    purgeExpired: (nowSeconds: number) => Promise<number>
  }
  /** simplejwt refresh tokens (SIMPLEJWT_COMPAT), each exchanged once. */
  legacyTokens: {
    /**
     * Records the token (`id`, SHA-256 of its jti) as used and stores the new
     * login's first refresh token, in one transaction: 'exchanged'. When it had
     * been used already, nothing is stored and the login it was exchanged for
     * is revoked (reuse = theft, as for this service's own tokens): 'reused'.
     */
    exchange: (id: string, expiresAt: number, first: NewRefreshToken, nowSeconds: number) => Promise<'exchanged' | 'reused'>
    /** Logout with a simplejwt token: recorded as used without a login (a later presentation is refused). */
    retire: (id: string, userId: string, expiresAt: number) => Promise<void>
  }
  signingKeys: {
    /** Every stored key, the signing one (retiredAt null) included. */
    list: () => Promise<SigningKey[]>
    /**
     * In one transaction: retires the signing key (retiredAt = createdAt of
     * `key`) and stores `key` as the new one. Returns false and changes nothing
     * when a key with that kid exists already, or, with `onlyIfNone`, when some
     * key signs already (several instances starting at once: one key wins).
     */
    add: (key: NewSigningKey, options?: { onlyIfNone?: boolean }) => Promise<boolean>
    /** Deletes one retired key (a leaked one: it stops verifying at once); false when there is no such retired key. */
    remove: (kid: string) => Promise<boolean>
    /** Deletes the keys retired before `before` (Unix seconds); returns how many. */
    purgeRetired: (before: number) => Promise<number>
    /**
     * Replaces a key's stored secret when it is still `from` (sealing a key
     * stored in clear, JWT_KEYS_ENCRYPTION_KEY): false, changing nothing, when
     * it is not (another instance did it first).
     */
    replaceSecret: (kid: string, from: string, to: string) => Promise<boolean>
  }
  /** The service's secrets that are never published (src/db/sqlite/schema.ts, serviceSecrets). */
  serviceSecrets: {
    get: (name: string) => Promise<string | undefined>
    /**
     * The value stored under `name`, storing `value` first when there is none:
     * of instances adding at once one wins, and every one gets the winner's value.
     */
    getOrAdd: (name: string, value: string, createdAt: number) => Promise<string>
    /** Replaces the value when it is still `from`; false, changing nothing, otherwise. */
    replace: (name: string, from: string, to: string) => Promise<boolean>
  }
  /** WebAuthn credentials (src/passkeys/). */
  passkeys: {
    /** Stores a new passkey; false (nothing written) when a passkey with that credential id exists, whoever's it is. */
    create: (passkey: NewPasskey) => Promise<boolean>
    byId: (id: string) => Promise<Passkey | undefined>
    /** The user's passkeys, oldest first. */
    byUser: (userId: string) => Promise<Passkey[]>
    /** The renamed passkey; undefined when the user has no passkey `id`. */
    rename: (userId: string, id: string, name: string) => Promise<Passkey | undefined>
    /**
     * One transaction (the user's row held: written on PostgreSQL, under the write lock on SQLite, so two removals cannot both
     * take the last ones): the passkey `id` of `userId` is deleted unless
     * `keep(user, passkeysLeft)` (the user's row, and how many passkeys it
     * would have left) says the user would be left with no way to log in.
     */
    remove: (userId: string, id: string, keep: (user: User, passkeysLeft: number, left: LoginMethodsLeft) => boolean) => Promise<PasskeyRemoval>
    /**
     * A sign-in with it: counter, backed-up flag and last_used_at written, only
     * if the stored counter is still `storedCounter` (a concurrent sign-in that
     * moved it first wins; false, nothing written).
     */
    recordUse: (id: string, storedCounter: number, newCounter: number, backedUp: boolean, nowSeconds: number) => Promise<boolean>
  }
  webauthnChallenges: {
    create: (challenge: WebauthnChallenge) => Promise<void>
    /**
     * Uses the challenge up: deletes and returns the row with this challenge
     * and purpose (and user, when `userId` is given) unexpired at
     * `nowSeconds`; undefined otherwise. One statement: of concurrent
     * consumptions of one challenge at most one gets it, across instances too.
     */
    consume: (challenge: string, purpose: ChallengePurpose, nowSeconds: number, userId?: string) => Promise<WebauthnChallenge | undefined>
    /** Deletes expired challenges; returns how many. */
    purgeExpired: (nowSeconds: number) => Promise<number>
  }
  /**
   * Sessions (refresh-token families with a row, src/db/sqlite/schema.ts).
   * Every write that revokes a family's tokens (logout, reuse, "log out
   * everywhere", a password change or reset, `end`) ends its session in the
   * same transaction, and every instance then refuses its access tokens
   * (`endedNow`).
   */
  sessions: {
    /** The user's sessions not ended whose refresh token has not expired at `nowSeconds`, newest first. */
    byUser: (userId: string, nowSeconds: number) => Promise<Session[]>
    /**
     * Ends the session `id` of `userId`: its live refresh tokens revoked
     * (reason `logout`) and `ended_at` set, one transaction. False (nothing
     * written) when the user has no such session not yet ended.
     */
    end: (userId: string, id: string, nowSeconds: number) => Promise<boolean>
    /**
     * Whether the session `id` has ended (its access tokens must be refused),
     * on every instance as soon as the ending committed. Answered from memory
     * (a denylist of the ended sessions whose access tokens may still be
     * alive, kept fresh across instances); a promise only while that cannot
     * be trusted (PostgreSQL: its listener is down, then the row is read).
     */
    endedNow: (id: string) => boolean | Promise<boolean>
  }
  /** The second factor (src/mfa/): TOTP, recovery codes, logins waiting for a code. */
  mfa: {
    totp: (userId: string) => Promise<MfaTotp | undefined>
    /**
     * Stores a pending TOTP secret (replacing a pending one). False, nothing
     * written, when the user has TOTP enabled already.
     */
    beginTotp: (userId: string, secret: string, nowSeconds: number) => Promise<boolean>
    /**
     * One transaction: the pending secret, if it is still `secret` (the one
     * the code was checked against), is enabled with `step` as its last used
     * step, and the user's recovery codes become `codeHashes`. False, nothing
     * written, when there is no such pending secret (replaced, or enabled by a
     * concurrent confirmation).
     */
    enableTotp: (userId: string, secret: string, step: number, codeHashes: string[], nowSeconds: number) => Promise<boolean>
    /**
     * Records `step` as the last used step of an enabled TOTP if it is later
     * than the stored one: one conditional UPDATE, so of concurrent uses of
     * one code at most one returns true (across instances too). False: a
     * replay, or no enabled TOTP.
     */
    useStep: (userId: string, step: number) => Promise<boolean>
    /** One transaction: the TOTP row (enabled or pending), the recovery codes and the waiting logins of the user are deleted; true when TOTP was enabled. */
    disable: (userId: string) => Promise<boolean>
    /** One transaction: the user's recovery codes become `codeHashes` if TOTP is enabled; false (nothing written) otherwise. */
    replaceRecoveryCodes: (userId: string, codeHashes: string[], nowSeconds: number) => Promise<boolean>
    /** Marks the unused code `codeHash` of the user used: true once, false for an unknown or used code. */
    useRecoveryCode: (userId: string, codeHash: string, nowSeconds: number) => Promise<boolean>
    recoveryCodesLeft: (userId: string) => Promise<number>
    createChallenge: (challenge: NewMfaChallenge) => Promise<void>
    /** The challenge `id` if unexpired at `nowSeconds` with fewer than `maxFailures` failures; undefined otherwise. */
    challenge: (id: string, nowSeconds: number, maxFailures: number) => Promise<MfaChallenge | undefined>
    /** Counts a wrong code (one UPDATE); at `maxFailures` the challenge is deleted. Returns the failures counted (0: no such challenge). */
    failChallenge: (id: string, maxFailures: number) => Promise<number>
    /** Uses the challenge up: deletes and returns it if unexpired at `nowSeconds`; of concurrent calls at most one gets it. */
    consumeChallenge: (id: string, nowSeconds: number) => Promise<MfaChallenge | undefined>
    /** Deletes expired challenges; returns how many. */
    purgeExpiredChallenges: (nowSeconds: number) => Promise<number>
  }
  /** Social login identities (src/social/, src/accounts/social-accounts.ts). */
  socialIdentities: SocialIdentityStore
  /** A cheap round trip, for readiness. */
  ping: () => Promise<void>
  close: () => Promise<void>
}

/** Store.socialIdentities (src/db/sqlite/social.ts, src/db/postgres/social.ts). */
export interface SocialIdentityStore {
  byProviderSubject: (provider: string, subject: string) => Promise<SocialIdentity | undefined>
  /** The user's identities, oldest first. */
  byUser: (userId: string) => Promise<SocialIdentity[]>
  /**
   * A sign-up through a provider, one transaction: the user (no usable
   * password) and its identity (the login follows, as any login). Throws EmailTakenError when the email or the identity exists (a
   * concurrent sign-up won); nothing is then written.
   */
  signUp: (user: NewUser & { emailVerified: boolean }, identity: NewSocialIdentity) => Promise<User>
  /** Links an identity to its user; false (nothing written) when that provider account or that user's identity at the provider exists already. */
  link: (identity: NewSocialIdentity) => Promise<boolean>
  /** A sign-in with it: last_used_at and the address the provider gave. */
  recordUse: (id: string, email: string, nowSeconds: number) => Promise<void>
  /**
   * One transaction, as passkeys.remove: the user's identity at `provider` is
   * deleted unless `keep(user, left)` says the user would have no way left to log in.
   */
  remove: (userId: string, provider: string, keep: (user: User, left: LoginMethodsLeft) => boolean) => Promise<SocialIdentityRemoval>
  /** `import django`: identities of imported users (by their Django id), skipping those present; returns how many were inserted. */
  importMany: (rows: Array<NewSocialIdentity>) => Promise<number>
}
