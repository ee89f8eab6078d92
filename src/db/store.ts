import type { RefreshTokenRow, SigningKeyRow, UserRow } from './schema.js'

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
  | 'rotated' // it was live: now revoked, and its successor stored
  | 'reused' // it had been revoked already: its whole family is now revoked
  | 'unknown' // no such token (never issued here, or purged)

/**
 * Persistence as the domain needs it. Methods are async so that a networked
 * database can stand behind the same interface; each multi-step write is one
 * transaction.
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
    byEmail: (email: string) => Promise<User | undefined>
    /**
     * Sets last_login, and replaces the hash when it was re-hashed with current
     * parameters. With `token` (the login's first refresh token), both are
     * stored in one transaction: a login that fails changes nothing.
     */
    recordLogin: (id: string, at: Date, rehashed?: string, token?: NewRefreshToken) => Promise<void>
    setActive: (id: string, active: boolean) => Promise<void>
    remove: (id: string) => Promise<void>
    /** New hash, every refresh token of the user revoked, and the new login's token stored: one transaction. */
    changePassword: (id: string, passwordHash: string, next: NewRefreshToken, now: number) => Promise<void>
  }
  refreshTokens: {
    byId: (id: string) => Promise<RefreshTokenRow | undefined>
    /**
     * Atomically revokes `id` if it is live and stores `next` in its family;
     * if `id` was already revoked, revokes its family instead (reuse = theft).
     * Of N concurrent calls for one id, at most one returns 'rotated'.
     */
    rotate: (id: string, next: NewRefreshToken, now: number) => Promise<RotateOutcome>
    /** Revokes the live tokens of one login (a family always belongs to one user). */
    revokeFamily: (userId: string, familyId: string, now: number) => Promise<number>
    revokeUser: (userId: string, now: number) => Promise<number>
    /** Deletes rows whose token has expired; returns how many. */
    purgeExpired: (now: number) => Promise<number>
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
  }
  /** A cheap round trip, for readiness. */
  ping: () => Promise<void>
  close: () => Promise<void>
}
