import { DrizzleQueryError } from 'drizzle-orm'
import { StorageUnavailableError } from '../../errors.js'

/**
 * SQLite's codes for "the storage cannot be used right now" (locked by another
 * connection, disk full, file read-only, removed or replaced, I/O error…), not
 * "bad input": the request may be repeated once the fault clears.
 */
export const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN|NOMEM|PROTOCOL|CORRUPT|NOTADB)/

/**
 * better-sqlite3's error for a statement on a closed connection (and the
 * rotation writer's, src/db/sqlite/rotations.ts): the store was closed because
 * the service is shutting down, and a request still running (its client gone,
 * its password hash computed only now) reached it. Like the PostgreSQL pool's
 * "Cannot use a pool after calling end", that is a 503, not a bug.
 */
const CLOSED = 'The database connection is not open'

function codeOf (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** A UNIQUE or PRIMARY KEY constraint refused the write (an email taken, an id stored already). */
export function isUniqueViolation (err: unknown): boolean {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = codeOf(e)
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return true
  }
  return false
}

/**
 * What the SQLite store throws for a failure: StorageUnavailableError, with
 * the driver's error as its cause, when the storage cannot be used right now;
 * otherwise (a bug) the driver's error itself. Never drizzle's
 * DrizzleQueryError: its message lists the query's bound values (password
 * hashes, token keys), which must not reach a log.
 */
export function domainError (err: unknown): unknown {
  let e = err
  while (e instanceof DrizzleQueryError && e.cause !== undefined) e = e.cause
  for (let c: unknown = e; c !== null && typeof c === 'object'; c = (c as { cause?: unknown }).cause) {
    if (UNAVAILABLE.test(codeOf(c) ?? '') || (c as { message?: unknown }).message === CLOSED) return new StorageUnavailableError({ cause: e })
  }
  return e
}
