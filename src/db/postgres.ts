import { setTimeout as delay } from 'node:timers/promises'
import { and, DrizzleQueryError, eq, isNotNull, isNull, lt, sql } from 'drizzle-orm'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { EmailTakenError, StorageUnavailableError } from '../errors.js'
import { migrationsDir } from '../paths.js'
import * as schema from './schema.pg.js'
import type { NewRefreshToken, RotateOutcome, Store } from './store.js'

const { users, refreshTokens, signingKeys } = schema

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database?…` (anything node-postgres accepts). */
  url: string
  /**
   * Connections in the pool. The work per request is a few short statements;
   * on a small machine (2 cores, the database often on the same host) more
   * connections than a few per core only queue inside PostgreSQL instead of here.
   */
  max?: number
  /** How long to wait for a connection (new, or a free one from the pool) before failing with 503. */
  connectionTimeoutMillis?: number
  /** Errors of idle pooled connections (server restart, network loss); they are dropped from the pool either way. */
  onIdleError?: (err: Error) => void
}

/** The database cannot be used at start: one line, no stack, no password. */
export class DatabaseStartError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DatabaseStartError'
  }
}

type Db = NodePgDatabase<typeof schema>
/** A drizzle handle bound to the one connection a transaction runs on. */
type Tx = NodePgDatabase

/** Serialisation failure, deadlock: the transaction is safe to run again. */
const RETRYABLE = new Set(['40001', '40P01'])
const MAX_ATTEMPTS = 10
/** Any constant shared by every instance of the service: serialises concurrent migrations. */
const MIGRATION_LOCK = 0x61757468 // "auth"

/** node-postgres failures that carry no code but mean "the connection is gone / none is available". */
const CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|Client was closed)/i

/** The driver's error without drizzle's wrapper (whose message lists the bound values, hashes included). */
function unwrap (err: unknown): unknown {
  while (err instanceof DrizzleQueryError && err.cause !== undefined) err = err.cause
  return err
}

/** Connection-class failures: the server is down, unreachable, restarting or out of connections. */
export const CONNECTION_CODES = /^(08...|57P0[1-3]|53...|E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN))$/

function isConnectionError (err: unknown): boolean {
  const code = codeOf(err)
  if (code !== undefined) return CONNECTION_CODES.test(code)
  return err instanceof Error && CONNECTION_MESSAGES.test(err.message)
}

function codeOf (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** What a store method throws: the driver's error, or StorageUnavailableError (503) when the server is out of reach. */
function translate (err: unknown): unknown {
  const e = unwrap(err)
  if (codeOf(e) === undefined && e instanceof Error && CONNECTION_MESSAGES.test(e.message)) {
    return new StorageUnavailableError({ cause: e })
  }
  return e
}

function guard<A extends unknown[], R> (fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args)
    } catch (err) {
      throw translate(err)
    }
  }
}

/** `host:port/database` of a URL, never its credentials. */
export function describeUrl (url: string): string {
  try {
    const u = new URL(url)
    const host = u.searchParams.get('host') ?? (u.hostname === '' ? 'localhost' : u.hostname)
    return `${host}:${u.port === '' ? '5432' : u.port}${u.pathname === '' ? '/' : u.pathname}`
  } catch {
    return 'the configured server'
  }
}

/** A start failure as one readable line naming DATABASE_URL. */
function startError (err: unknown, url: string): DatabaseStartError {
  const e = unwrap(err)
  const code = codeOf(e)
  const where = describeUrl(url)
  const reason = (e instanceof Error && e.message !== '') ? e.message : (code ?? String(e))
  let message: string
  if (code === '28P01' || code === '28000') message = `DATABASE_URL: PostgreSQL at ${where} refused the login: ${reason}`
  else if (code === '3D000') message = `DATABASE_URL: PostgreSQL at ${where}: ${reason}`
  else if (isConnectionError(e)) message = `DATABASE_URL: cannot reach PostgreSQL at ${where}: ${reason}`
  else message = `PostgreSQL at ${where}: cannot prepare the database: ${reason}`
  return new DatabaseStartError(message, { cause: e })
}

/**
 * Connects, migrates (`migrations/postgres`, under an advisory lock so that
 * several instances may start at once) and returns the Store.
 * Throws DatabaseStartError when the server cannot be used.
 */
export async function openPostgresStore ({ url, max = 8, connectionTimeoutMillis = 5000, onIdleError }: PostgresOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis,
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
  try {
    const client = await pool.connect()
    let broken: Error | undefined
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
      try {
        await migrate(drizzle({ client }), { migrationsFolder: migrationsDir.postgres })
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
      }
    } catch (err) {
      broken = err as Error
      throw err
    } finally {
      client.release(broken)
    }
  } catch (err) {
    await pool.end().catch(() => {})
    throw startError(err, url)
  }
  return createStore(pool, drizzle({ client: pool, schema }))
}

function createStore (pool: pg.Pool, db: Db): Store {
  const p = sql.placeholder
  // Hot reads: named statements, parsed once per connection.
  const userById = db.select().from(users).where(eq(users.id, p('id'))).limit(1).prepare('auth_user_by_id')
  const userByEmail = db.select().from(users).where(eq(users.email, p('email'))).limit(1).prepare('auth_user_by_email')
  const tokenById = db.select().from(refreshTokens).where(eq(refreshTokens.id, p('id'))).limit(1).prepare('auth_token_by_id')

  // Statements run inside a transaction are bound to its connection, so they
  // are built per call; their names still let each connection parse them once.
  const txInsertToken = async (tx: Tx, token: NewRefreshToken): Promise<void> => {
    await tx.insert(refreshTokens).values({
      id: p('id'), userId: p('userId'), familyId: p('familyId'), expiresAt: p('expiresAt'), createdAt: p('createdAt')
    }).prepare('auth_token_insert').execute(token)
  }
  const revokeWhere = async (tx: Tx, name: string, where: ReturnType<typeof and>, params: Record<string, unknown>): Promise<number> => {
    const res = await tx.update(refreshTokens).set({ revokedAt: p('now') as unknown as number })
      .where(and(where, isNull(refreshTokens.revokedAt))).prepare(name).execute(params)
    return res.rowCount ?? 0
  }
  const revokeFamily = async (tx: Tx, userId: string, familyId: string, now: number): Promise<number> =>
    await revokeWhere(tx, 'auth_revoke_family', and(eq(refreshTokens.userId, p('userId')), eq(refreshTokens.familyId, p('familyId'))), { userId, familyId, now })
  const revokeUser = async (tx: Tx, userId: string, now: number): Promise<number> =>
    await revokeWhere(tx, 'auth_revoke_user', eq(refreshTokens.userId, p('userId')), { userId, now })

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
  async function inTransaction<T> (work: (tx: Tx) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await transactionOnce(work)
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
  async function transactionOnce<T> (work: (tx: Tx) => Promise<T>): Promise<T> {
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

  let closed = false

  return {
    users: {
      create: guard(async (user, firstToken) => {
        try {
          const insert = async (q: Tx | typeof db) => {
            const [row] = await q.insert(users).values(user).returning()
            if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
            return row
          }
          if (firstToken === undefined) return await insert(db)
          // A join: the user and its first refresh token, or neither.
          return await inTransaction(async (tx) => {
            const row = await insert(tx)
            await txInsertToken(tx, firstToken)
            return row
          })
        } catch (err) {
          if (codeOf(unwrap(err)) === '23505') throw new EmailTakenError()
          throw err
        }
      }),
      byId: guard(async (id) => (await userById.execute({ id }))[0]),
      byEmail: guard(async (email) => (await userByEmail.execute({ email }))[0]),
      recordLogin: guard(async (id, at, rehashed, token) => {
        const update = async (q: Tx | typeof db): Promise<void> => {
          await q.update(users).set(rehashed === undefined ? { lastLogin: at } : { lastLogin: at, passwordHash: rehashed })
            .where(eq(users.id, id))
        }
        if (token === undefined) return await update(db)
        // A login: last_login and the new family's first token, or neither.
        await inTransaction(async (tx) => {
          await update(tx)
          await txInsertToken(tx, token)
        })
      }),
      setActive: guard(async (id, active) => { await db.update(users).set({ isActive: active }).where(eq(users.id, id)) }),
      remove: guard(async (id) => { await db.delete(users).where(eq(users.id, id)) }),
      changePassword: guard(async (id, passwordHash, next, now) => {
        await inTransaction(async (tx) => {
          await tx.update(users).set({ passwordHash }).where(eq(users.id, id))
          await revokeUser(tx, id, now)
          await txInsertToken(tx, next)
        })
      })
    },
    refreshTokens: {
      byId: guard(async (id) => (await tokenById.execute({ id }))[0]),
      rotate: guard(async (id, next, now) => await inTransaction(async (tx): Promise<RotateOutcome> => {
        // The conditional UPDATE is the whole race: of concurrent rotations of
        // one token exactly one sees `revoked_at IS NULL` and changes the row.
        const revoked = await tx.update(refreshTokens).set({ revokedAt: p('now') as unknown as number })
          .where(and(eq(refreshTokens.id, p('id')), isNull(refreshTokens.revokedAt)))
          .prepare('auth_revoke_live').execute({ id, now })
        if (revoked.rowCount === 1) {
          await txInsertToken(tx, next)
          return 'rotated'
        }
        const [row] = await tx.select({ userId: refreshTokens.userId, familyId: refreshTokens.familyId }).from(refreshTokens)
          .where(eq(refreshTokens.id, p('id'))).limit(1).prepare('auth_token_family').execute({ id })
        if (row === undefined) return 'unknown'
        await revokeFamily(tx, row.userId, row.familyId, now)
        return 'reused'
      })),
      revokeFamily: guard(async (userId, familyId, now) => await inTransaction(async (tx) => await revokeFamily(tx, userId, familyId, now))),
      revokeUser: guard(async (userId, now) => await inTransaction(async (tx) => await revokeUser(tx, userId, now))),
      purgeExpired: guard(async (now) => {
        const res = await db.delete(refreshTokens).where(lt(refreshTokens.expiresAt, now))
        return res.rowCount ?? 0
      })
    },
    signingKeys: {
      list: guard(async () => await db.select().from(signingKeys)),
      add: guard(async (key, options) => {
        try {
          return await inTransaction(async (tx) => {
            if ((await tx.select({ kid: signingKeys.kid }).from(signingKeys).where(eq(signingKeys.kid, key.kid))).length > 0) return false
            const current = await tx.select({ kid: signingKeys.kid }).from(signingKeys).where(isNull(signingKeys.retiredAt))
            if (options?.onlyIfNone === true && current.length > 0) return false
            await tx.update(signingKeys).set({ retiredAt: key.createdAt }).where(isNull(signingKeys.retiredAt))
            await tx.insert(signingKeys).values(key)
            return true
          })
        } catch (err) {
          // Another instance stored its first key (or this kid) at the same
          // moment: the unique indexes make one of them win, and that is enough.
          if (codeOf(unwrap(err)) === '23505') return false
          throw err
        }
      }),
      remove: guard(async (kid) => {
        const res = await db.delete(signingKeys).where(and(eq(signingKeys.kid, kid), isNotNull(signingKeys.retiredAt)))
        return res.rowCount === 1
      }),
      purgeRetired: guard(async (before) => {
        const res = await db.delete(signingKeys).where(and(isNotNull(signingKeys.retiredAt), lt(signingKeys.retiredAt, before)))
        return res.rowCount ?? 0
      })
    },
    ping: guard(async () => { await pool.query('SELECT 1') }),
    async close () {
      if (closed) return
      closed = true
      await pool.end()
    }
  }
}
