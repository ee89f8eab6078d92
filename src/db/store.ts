import type { RefreshTokenRow, UserRow } from './schema.js'

export type User = UserRow

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
  isStaff?: boolean
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

/** What rotating a presented refresh token did. */
export type RotateOutcome =
  | 'rotated' // it was live: now revoked, and its successor stored
  | 'reused' // it had been revoked already: its whole family is now revoked
  | 'unknown' // no such token (never issued here, or purged)

/** A user carried over from Django (`import django`): upserted by email. */
export type ImportedUser = NewUser & {
  isActive: boolean
  isStaff: boolean
  isSuperuser: boolean
  emailVerified: boolean
  /** Django's user id, as text. */
  legacyId: string
}

/**
 * What importing one user did. `updated` keeps the service's own password hash
 * once the user has logged in here (it is no longer a Django hash).
 */
export type ImportOutcome = 'created' | 'updated' | 'legacy_id_taken'

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

    // Operators (the command line, issue 14).
    /** Users ordered by email, `limit` of them after `afterEmail` (keyset paging). */
    list: (limit: number, afterEmail?: string) => Promise<User[]>
    count: () => Promise<number>
    byLegacyId: (legacyId: string) => Promise<User | undefined>
    /** New hash and every refresh token of the user revoked, one transaction (no new login). */
    setPassword: (id: string, passwordHash: string, now: number) => Promise<void>
    /** One transaction: users whose email exists are skipped; returns how many were inserted. */
    insertMany: (users: NewUser[]) => Promise<number>
    /** One transaction: each user inserted, or updated when its email exists (see ImportOutcome). */
    importMany: (users: ImportedUser[], isForeignHash: (hash: string) => boolean) => Promise<ImportOutcome[]>
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
    /**
     * Deletes expired rows (live or revoked) and expired exchanged simplejwt
     * tokens. A revoked row that has not expired is kept: presenting it again
     * must still be recognised as reuse.
     */
    purge: (now: number) => Promise<PurgeCounts>
  }
  /** simplejwt refresh tokens (SIMPLEJWT_COMPAT), each exchanged once. */
  legacyTokens: {
    /**
     * Records the token (`id`, SHA-256 of its jti) as used and stores the new
     * login's first refresh token, in one transaction: 'exchanged'. When it had
     * been used already, nothing is stored and the login it was exchanged for
     * is revoked (reuse = theft, as for this service's own tokens): 'reused'.
     */
    exchange: (id: string, expiresAt: number, first: NewRefreshToken, now: number) => Promise<'exchanged' | 'reused'>
    /** Logout with a simplejwt token: recorded as used without a login (a later presentation is refused). */
    retire: (id: string, userId: string, expiresAt: number) => Promise<void>
  }
  /** A cheap round trip, for readiness. */
  ping: () => Promise<void>
  close: () => Promise<void>
}
