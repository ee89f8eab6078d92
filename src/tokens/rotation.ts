import type { RevokeReason } from '../db/store.js'

/*
 * What presenting a refresh token for rotation does: the one set of rules both
 * stores apply (Store.refreshTokens.rotate in src/db/store.ts; the PostgreSQL
 * store, and the SQLite store's rotation writer thread). A store reads the
 * rows, asks decideRotation, and writes what it decides in the same
 * transaction.
 *
 * Each store first tries the common case in one statement: an UPDATE whose
 * WHERE is isRotatable in SQL (`id = ? AND user_id = ? AND revoked_at IS
 * NULL`), which revokes a live token and returns its family, so that a refresh
 * costs no read (both stores group-commit it with the rotations asked for at
 * the same time). Only when it changes nothing does the store read the
 * token and its successor and decide here; a `rotate` decision then means that
 * the UPDATE and isRotatable disagree.
 *
 * Imports nothing at run time: the SQLite rotation worker thread loads it.
 */

/** The presented token's row, as far as a rotation reads it. */
export interface PresentedToken {
  userId: string
  familyId: string
  revokedAt: number | null
  revokeReason: RevokeReason | null
  /** Set by the rotation that revoked it: the token it was rotated into. */
  successorId: string | null
  /** That successor, sealed for this token's holder (src/tokens/refresh-grace.ts), when a grace window was on. */
  successorSealed: string | null
}

/** The row of the token the presented one was rotated into (`successorId`), when it is still stored. */
export interface SuccessorToken {
  familyId: string
  revokedAt: number | null
}

export interface RotationAsked {
  /** The user the presented token names (`sub`): a token of another user is unknown. */
  userId: string
  /** Unix seconds. */
  nowSeconds: number
  /** REFRESH_REUSE_INTERVAL, when on: seconds after a rotation during which a replay gets the successor back. */
  grace?: { interval: number } | undefined
}

export type RotationDecision =
  // A live token of the user: revoke it (reason `rotated`) and store its successor.
  | { kind: 'rotate' }
  // Rotated less than `grace.interval` seconds ago into a token that is still
  // live: write nothing, answer with that successor (as the rotation sealed it).
  | { kind: 'replay', successorId: string, sealed: string }
  // Revoked already and no grace applies: reuse, the sign of a stolen token.
  // Revoke the whole family (reason `reuse`).
  | { kind: 'reuse', userId: string, familyId: string }
  // No such token of this user: never issued here, purged, or another user's.
  | { kind: 'unknown' }

/** A live token of `userId`: the rule the stores' conditional UPDATE writes in SQL. */
export function isRotatable (token: Pick<PresentedToken, 'userId' | 'revokedAt'>, userId: string): boolean {
  return token.userId === userId && token.revokedAt === null
}

/**
 * The decision for a presented token, from its row (undefined: not stored) and
 * the row of its successor (undefined: it has none, or it was purged).
 */
export function decideRotation (token: PresentedToken | undefined, successor: SuccessorToken | undefined, asked: RotationAsked): RotationDecision {
  if (token === undefined || token.userId !== asked.userId) return { kind: 'unknown' }
  if (isRotatable(token, asked.userId)) return { kind: 'rotate' }
  const { grace } = asked
  // Only a rotation may be replayed (never a logout or a password change), only
  // into the family's live token (the chain has not moved on), and only as
  // sealed for this token's holder.
  if (grace !== undefined && token.revokeReason === 'rotated' && token.revokedAt !== null &&
      asked.nowSeconds - token.revokedAt < grace.interval &&
      token.successorId !== null && token.successorSealed !== null &&
      successor !== undefined && successor.revokedAt === null && successor.familyId === token.familyId) {
    return { kind: 'replay', successorId: token.successorId, sealed: token.successorSealed }
  }
  return { kind: 'reuse', userId: token.userId, familyId: token.familyId }
}

/**
 * Whether a purge deletes a refresh token's row, or an exchanged simplejwt
 * token's: once it has expired, revoked or not. A revoked token that has not
 * expired is kept, so that presenting it again is still recognised as reuse
 * (decideRotation) rather than as unknown. The stores' DELETE … WHERE
 * expires_at < ? is this rule in SQL.
 */
export function isPurgeable (token: { expiresAt: number }, nowSeconds: number): boolean {
  return token.expiresAt < nowSeconds
}
