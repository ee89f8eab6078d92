import pg from 'pg'
import { BoundedCache } from '../../bounded-cache.js'
import type { User } from '../store.js'

/** The channel every instance announces a changed user id on, in the transaction that changes it. */
export const USER_CHANNEL = 'auth_user_changed'
/** See PostgresOptions.userCacheTtlMs (src/db/postgres/store.ts). */
export const USER_CACHE_TTL_MS = 10_000
/** USER_CACHE_SIZE's default. */
export const USERS_CACHED = 8192

/**
 * Users by id, remembered between requests, kept right across instances:
 * every write to a user (here or on another instance) sends
 * NOTIFY auth_user_changed '<id>' in its transaction, and a dedicated
 * connection LISTENing on that channel drops the id on delivery (PostgreSQL
 * delivers at commit, so within milliseconds). While that connection is down
 * nothing is served from the cache (every request reads the row, as without
 * a cache) and it is emptied when the connection is back, since notifications
 * sent meanwhile are lost. Rows also expire after `ttlMs`, which bounds
 * writes made beside the service.
 */
export function userChangeListener (url: string, connectionTimeoutMillis: number, ttlMs: number, onListener?: (state: 'up' | 'down', err?: Error) => void, size = USERS_CACHED) {
  // As the SQLite store's user cache (src/bounded-cache.ts), with an expiry.
  const rows = new BoundedCache<User>(size)
  /** Counts invalidations: a read that saw one happen meanwhile is not remembered (its row may predate the change). */
  let generation = 0
  let listening = false
  let closed = false
  let client: pg.Client | undefined
  let retry: NodeJS.Timeout | undefined
  let attempt = 0

  const invalidate = (id?: string): void => {
    generation++
    if (id === undefined) rows.clear()
    else rows.delete(id)
  }
  const lost = (err?: Error): void => {
    const was = listening
    listening = false
    invalidate()
    const old = client
    client = undefined
    old?.removeAllListeners('end')
    void old?.end().catch(() => {})
    if (was) onListener?.('down', err)
    if (!closed && retry === undefined) {
      retry = setTimeout(() => { retry = undefined; void connect() }, Math.min(100 * 2 ** attempt++, 5000))
      retry.unref()
    }
  }
  const connect = async (): Promise<void> => {
    // TCP keep-alive probes after 10 s of silence: a path that dies without a
    // reset is noticed (then the cache is bypassed) instead of trusted for hours.
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis, keepAlive: true, keepAliveInitialDelayMillis: 10_000, application_name: 'auth-service-listener' })
    client = c
    c.on('error', (err) => { if (client === c) lost(err) })
    c.on('end', () => { if (client === c) lost() })
    c.on('notification', (msg) => { if (msg.channel === USER_CHANNEL) invalidate(msg.payload) })
    try {
      await c.connect()
      await c.query(`LISTEN ${USER_CHANNEL}`)
      if (client !== c || closed) { await c.end().catch(() => {}); return }
      attempt = 0
      invalidate()
      listening = true
      onListener?.('up')
    } catch (err) {
      if (client === c) lost(err as Error)
    }
  }
  void connect()

  return {
    /** The remembered row, if the listener is up and the row is young enough. */
    get (id: string): User | undefined {
      return listening ? rows.get(id) : undefined
    },
    /** Reads `id` with `load` and remembers it, unless an invalidation came in meanwhile. */
    async load (id: string, load: () => Promise<User | undefined>): Promise<User | undefined> {
      const before = generation
      const user = await load()
      if (user !== undefined && listening && generation === before) rows.set(id, Object.freeze(user), Date.now() + ttlMs)
      return user
    },
    forget: invalidate,
    async close (): Promise<void> {
      closed = true
      if (retry !== undefined) clearTimeout(retry)
      listening = false
      const c = client
      client = undefined
      await c?.end().catch(() => {})
    }
  }
}

export type UserCache = ReturnType<typeof userChangeListener>
