import { setTimeout as delay } from 'node:timers/promises'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { migrationsDir } from '../../paths.js'
import { codeOf, isConnectionError, unwrap } from './errors.js'

/** A drizzle handle bound to the one connection a transaction runs on. */
export type Tx = NodePgDatabase

/** Serialisation failure, deadlock: the transaction is safe to run again. */
const RETRYABLE = new Set(['40001', '40P01'])
const MAX_ATTEMPTS = 10
/** Any constant shared by every instance of the service: serialises concurrent migrations. */
const MIGRATION_LOCK = 0x61757468 // "auth"

export interface PoolOptions {
  url: string
  max: number
  connectionTimeoutMillis: number
  queryTimeoutMillis: number
  onIdleError: ((err: Error) => void) | undefined
}

/** The pool the store's statements run on. */
export function openPool ({ url, max, connectionTimeoutMillis, queryTimeoutMillis, onIdleError }: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis,
    query_timeout: queryTimeoutMillis,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'auth-service'
  })
  // A connection that breaks must never crash the process. Idle ones are
  // dropped by the pool (and reported here); one checked out for a transaction
  // has no listener of its own between statements, so every connection gets a
  // silent one: its failure surfaces as the failing statement's error instead,
  // and the pool discards it on release.
  pool.on('error', (err) => { onIdleError?.(err) })
  pool.on('connect', (client) => { client.on('error', () => {}) })
  return pool
}

/**
 * Applies `migrations/postgres` under an advisory lock, so that several
 * instances may start at once: the others wait, then find nothing to do.
 */
export async function migrateLocked (url: string, connectionTimeoutMillis: number): Promise<void> {
  // A connection of its own, without the pool's statement timeout: waiting
  // for another instance's migration, or a long one, is not a failure. The
  // advisory lock is the session's, so it covers every statement drizzle's
  // migrator runs on this connection (its check of what is applied too).
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis, application_name: 'auth-service-migrate' })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await migrate(drizzle({ client }), { migrationsFolder: migrationsDir.postgres })
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    }
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Runs `work` as one REPEATABLE READ transaction, again from the start when
 * PostgreSQL reports a serialisation failure or deadlock.
 *
 * Why REPEATABLE READ and not the default READ COMMITTED: a rotation revokes
 * its token and inserts the successor atomically. A concurrent family/user
 * revocation whose snapshot predates that commit would, under READ COMMITTED,
 * skip the now-revoked token and never see the successor — leaving a live
 * token after logout or a password change. Under REPEATABLE READ it must
 * update the token the rotation updated, gets a serialisation failure, and
 * its retry (a fresh snapshot) revokes the successor too. The outcome is
 * always one a serial execution could give, as with SQLite.
 */
export async function inTransaction<T> (pool: pg.Pool, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transactionOnce(pool, work)
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has(codeOf(unwrap(err)) ?? '')) throw err
      await delay(Math.random() * 2 * attempt)
    }
  }
}

/**
 * BEGIN … COMMIT on one pooled connection. (Not drizzle's `db.transaction`:
 * with a pool it never releases the connection when BEGIN itself fails —
 * after a network blip the pool would stay exhausted.) The connection is
 * released in every case, and destroyed when it can no longer be trusted.
 */
async function transactionOnce<T> (pool: pg.Pool, work: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
    try {
      const result = await work(drizzle({ client }))
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => { broken = rollbackErr })
      throw err
    }
  } catch (err) {
    broken ??= isConnectionError(unwrap(err)) ? err as Error : undefined
    throw err
  } finally {
    client.release(broken)
  }
}
