import { BoundedCache } from '../../bounded-cache.js'
import { USERS_CACHED } from '../../config-env.js'

/**
 * Users by id, remembered between requests: every authenticated request reads
 * its user (a deactivated or deleted user's token must stop working at once),
 * and that read was most of what separates /account/mypage from /health.
 *
 * Never stale beyond the current event-loop turn: this connection's own writes
 * to a user forget it (the store's write methods call `forget`), and any
 * connection's change to `users` — another instance, the sqlite3 shell, an
 * admin script — moves `user_changes.version` (triggers, src/db/sqlite/schema.ts),
 * read once per turn, which empties the cache. The moves of this connection's
 * own writes are `adopt`ed instead: a login (last_login) empties nothing.
 */
export function userCache<U extends object> (usersVersion: () => unknown, load: (id: string) => U | undefined, max = USERS_CACHED) {
  const cache = new BoundedCache<U>(max)
  let version: unknown
  let checked = false
  const uncheck = (): void => { checked = false }
  return {
    get (id: string): U | undefined {
      if (!checked) {
        const current = usersVersion() // may throw (storage fault): then nothing is marked checked
        if (current !== version) { cache.clear(); version = current }
        checked = true
        setImmediate(uncheck)
      }
      if (max === 0) return load(id)
      let user = cache.get(id)
      if (user === undefined) {
        user = load(id)
        // Frozen only once shared: a row the full cache did not take stays
        // plain, so that nothing is memoised for it (publicUser, mypage's
        // answer) that would be garbage after this request.
        if (user !== undefined && cache.set(id, user)) Object.freeze(user)
      }
      return user
    },
    forget (id: string): void { cache.delete(id) },
    /**
     * This connection's own write moved the version from `before` to `after`
     * (both read inside its transaction): if the cache had seen `before`, it
     * stays valid for every user but the one written (which the writer forgets).
     */
    adopt (before: unknown, after: unknown): void {
      if (version === before) version = after
    }
  }
}
