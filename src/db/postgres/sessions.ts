import { sql } from 'drizzle-orm'
import pg from 'pg'
import type { NewRefreshToken, Session } from '../store.js'
import type { Tx } from './connection.js'
import { pgListener } from './listener.js'

/** The channel every instance announces an ended session on (`<id> <access_expires_at>`), in the transaction that ends it. */
export const SESSION_CHANNEL = 'auth_session_ended'

interface Ended { id: string, accessExpiresAt: number }

/** Longest an ending waits for its own notification to come back (see `told`). */
const ECHO_WAIT_MS = 250

/*
 * The PostgreSQL store's sessions (src/db/sqlite/schema.ts, `sessions`): the
 * rows written with a family's first token, their ending by whatever revokes
 * the family, and the denylist that refuses an ended session's access tokens
 * without a read per request.
 *
 * The denylist: the ids of ended sessions whose access tokens may still be
 * alive (`access_expires_at` ahead), in memory. Every ending sends
 * NOTIFY auth_session_ended in its transaction; a connection of its own
 * LISTENs and adds the ids on delivery (at commit, within milliseconds), and
 * this instance adds its own endings as soon as they commit. When that
 * connection (re)connects the set is read again (notifications sent while it
 * was down are lost); while it is down (or not yet up), `endedNow` reads the session's row
 * instead, as the user cache is bypassed then.
 */
export function pgSessions (pool: pg.Pool, url: string, connectionTimeoutMillis: number, nowSeconds: () => number = () => Math.floor(Date.now() / 1000), onListener?: (state: 'up' | 'down', err?: Error) => void) {
  const denied = new Map<string, number>()

  /** Ids whose notification an ending of this instance waits for (see `told`). */
  const waiting = new Map<string, () => void>()
  /** Ids whose notification came (cleared with the pruning): one heard before `told` asks is not waited for. */
  const heard = new Set<string>()
  const deny = (rows: Ended[]): void => {
    const now = nowSeconds()
    // A session whose access tokens have all expired has nothing left to refuse.
    for (const { id, accessExpiresAt } of rows) if (Number(accessExpiresAt) > now) denied.set(id, Number(accessExpiresAt))
  }
  /**
   * Resolves once this instance's own listener has heard of these endings (at
   * most ECHO_WAIT_MS): the ending's answer then waits for the notification's
   * round, which every other instance's listener hears at the same time, so a
   * client that moves on to another instance right after the answer finds it
   * refused there. Endings are rare; the wait costs the hot paths nothing.
   */
  const told = async (rows: Ended[]): Promise<void> => {
    const pending = rows.filter(({ id }) => !heard.has(id))
    if (!listener.listening || pending.length === 0) return
    const echoes = pending.map(async ({ id }) => await new Promise<void>((resolve) => { waiting.set(id, resolve) }))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all(echoes), new Promise<void>((resolve) => { timer = setTimeout(resolve, ECHO_WAIT_MS) })])
    clearTimeout(timer)
    for (const { id } of pending) waiting.delete(id)
  }
  /** Forgets the sessions whose access tokens have all expired. */
  const prune = (): void => {
    const now = nowSeconds()
    for (const [id, until] of denied) if (until <= now) denied.delete(id)
    heard.clear()
  }
  const pruning = setInterval(prune, 60_000)
  pruning.unref()

  // Started by the first question (a server's first request with a `sid`):
  // the command line, which never asks, opens no listening connection.
  const listener = pgListener({
    url,
    connectionTimeoutMillis,
    channel: SESSION_CHANNEL,
    applicationName: 'auth-service-sessions',
    onNotification: (payload) => {
      const [id, until] = (payload ?? '').split(' ')
      if (id !== undefined && id !== '') {
        deny([{ id, accessExpiresAt: Number(until) }])
        heard.add(id)
        waiting.get(id)?.()
      }
    },
    // The endings notified while it was down are lost: the set is read again.
    onListening: async (c) => {
      const { rows } = await c.query<{ id: string, access_expires_at: string }>(
        'SELECT id, access_expires_at FROM sessions WHERE ended_at IS NOT NULL AND access_expires_at > $1', [nowSeconds()])
      deny(rows.map((r) => ({ id: r.id, accessExpiresAt: Number(r.access_expires_at) })))
    },
    ...(onListener === undefined ? {} : { onListener })
  })

  /** Ends sessions in `tx` and tells every instance; the ended ones (whose access tokens may be alive). */
  const endWhere = async (tx: Tx, now: number, userId: string, familyId?: string): Promise<Ended[]> => {
    const { rows } = await tx.execute<{ id: string, access_expires_at: string }>(sql`WITH ended AS (
      UPDATE sessions SET ended_at = ${now} WHERE user_id = ${userId} ${familyId === undefined ? sql`` : sql`AND id = ${familyId}`} AND ended_at IS NULL
      RETURNING id, access_expires_at
    ) SELECT id, access_expires_at, pg_notify(${SESSION_CHANNEL}, id || ' ' || access_expires_at) FROM ended WHERE access_expires_at > ${now}`)
    return rows.map((r) => ({ id: r.id, accessExpiresAt: Number(r.access_expires_at) }))
  }

  /** Endings this instance committed: refused here at once; resolves once their notification came back (see `told`). */
  const committed = async (rows: Ended[]): Promise<void> => {
    deny(rows)
    await told(rows)
  }

  const revokeFamily = async (tx: Tx, userId: string, familyId: string, now: number): Promise<number> => {
    const res = await tx.execute(sql`UPDATE refresh_tokens SET revoked_at = ${now}, revoke_reason = 'logout'
      WHERE user_id = ${userId} AND family_id = ${familyId} AND revoked_at IS NULL`)
    return res.rowCount ?? 0
  }

  return {
    /** Inside the transaction storing `token` (a family's first): its session's row, if it has one. */
    async insert (tx: Tx, token: NewRefreshToken): Promise<void> {
      if (token.session === undefined) return
      const { method, userAgent, ip, accessExpiresAt } = token.session
      await tx.execute(sql`INSERT INTO sessions (id, user_id, method, user_agent, ip, created_at, last_used_at, expires_at, access_expires_at)
        VALUES (${token.familyId}, ${token.userId}, ${method}, ${userAgent}, ${ip}, ${token.createdAt}, ${token.createdAt}, ${token.expiresAt}, ${accessExpiresAt})`)
    },
    /** The sessions of several first tokens (`tokens issue`), in one statement. */
    async insertMany (tx: Tx | pg.Pool, tokens: NewRefreshToken[]): Promise<void> {
      const rows = tokens.filter((t) => t.session !== undefined)
      if (rows.length === 0) return
      const values = sql.join(rows.map((t) => {
        const s = t.session as NonNullable<NewRefreshToken['session']>
        return sql`(${t.familyId}, ${t.userId}, ${s.method}, ${s.userAgent}, ${s.ip}, ${t.createdAt}, ${t.createdAt}, ${t.expiresAt}, ${s.accessExpiresAt})`
      }), sql`, `)
      await (tx as Tx).execute(sql`INSERT INTO sessions (id, user_id, method, user_agent, ip, created_at, last_used_at, expires_at, access_expires_at) VALUES ${values}`)
    },
    endFamily: async (tx: Tx, userId: string, familyId: string, now: number): Promise<Ended[]> => await endWhere(tx, now, userId, familyId),
    endUser: async (tx: Tx, userId: string, now: number): Promise<Ended[]> => await endWhere(tx, now, userId),
    committed,
    api: (inTransaction: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>) => ({
      async byUser (userId: string, now: number): Promise<Session[]> {
        const { rows } = await pool.query<Session>({
          name: 'auth_sessions_by_user',
          text: 'SELECT id, user_id AS "userId", method, user_agent AS "userAgent", ip, created_at::float8 AS "createdAt", last_used_at::float8 AS "lastUsedAt", ' +
            'expires_at::float8 AS "expiresAt", access_expires_at::float8 AS "accessExpiresAt", ended_at::float8 AS "endedAt" ' +
            'FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC',
          values: [userId, now]
        })
        return rows
      },
      async end (userId: string, id: string, now: number): Promise<boolean> {
        const ended = await inTransaction(async (tx) => {
          const found = await tx.execute(sql`SELECT 1 FROM sessions WHERE id = ${id} AND user_id = ${userId} AND ended_at IS NULL`)
          if (found.rows.length === 0) return undefined
          // The tokens first, then the session: the order a rotation locks
          // them in (no deadlock between the two).
          await revokeFamily(tx, userId, id, now)
          const { rows } = await tx.execute<{ access_expires_at: string }>(sql`UPDATE sessions SET ended_at = ${now} WHERE id = ${id} AND user_id = ${userId} AND ended_at IS NULL
            RETURNING access_expires_at, pg_notify(${SESSION_CHANNEL}, id || ' ' || access_expires_at)`)
          // Ended meanwhile by another transaction: that one answers for it.
          if (rows.length === 0) return undefined
          return { id, accessExpiresAt: Number(rows[0]?.access_expires_at ?? 0) }
        })
        if (ended === undefined) return false
        await committed([ended])
        return true
      },
      endedNow (id: string): boolean | Promise<boolean> {
        listener.start()
        if (denied.has(id)) return true
        if (listener.listening) return false
        return pool.query({ name: 'auth_session_ended', text: 'SELECT 1 FROM sessions WHERE id = $1 AND ended_at IS NOT NULL AND access_expires_at > $2', values: [id, nowSeconds()] })
          .then((res) => (res.rowCount ?? 0) > 0)
      }
    }),
    async close (): Promise<void> {
      clearInterval(pruning)
      await listener.close()
    }
  }
}
