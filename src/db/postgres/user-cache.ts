import { BoundedCache } from '../../bounded-cache.js'
import { USERS_CACHED } from '../../config-env.js'
import { pgListener } from './listener.js'
import type { User } from '../store.js'

/** The channel every instance announces a changed user id on, in the transaction that changes it. */
export const USER_CHANNEL = 'auth_user_changed'
/** See PostgresOptions.userCacheTtlMs (src/db/postgres/store.ts). */
export const USER_CACHE_TTL_MS = 10_000

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

  const invalidate = (id?: string): void => {
    generation++
    if (id === undefined) rows.clear()
    else rows.delete(id)
  }
  // While it is down nothing is served; when it is back, what was notified meanwhile is lost: all is forgotten.
  const listener = pgListener({
    url,
    connectionTimeoutMillis,
    channel: USER_CHANNEL,
    applicationName: 'auth-service-listener',
    onNotification: invalidate,
    onListening: () => { invalidate() },
    onLost: () => { invalidate() },
    ...(onListener === undefined ? {} : { onListener })
  })
  listener.start()

  return {
    /** The remembered row, if the listener is up and the row is young enough. */
    get (id: string): User | undefined {
      return listener.listening ? rows.get(id) : undefined
    },
    /** Reads `id` with `load` and remembers it, unless an invalidation came in meanwhile. */
    async load (id: string, load: () => Promise<User | undefined>): Promise<User | undefined> {
      const before = generation
      const user = await load()
      // Frozen only once shared (as the SQLite store's: src/db/sqlite/user-cache.ts).
      if (user !== undefined && listener.listening && generation === before && rows.set(id, user, Date.now() + ttlMs)) Object.freeze(user)
      return user
    },
    forget: invalidate,
    close: listener.close
  }
}

export type UserCache = ReturnType<typeof userChangeListener>
