import type Database from 'better-sqlite3'
import type { NewRefreshToken, Session } from '../store.js'

/*
 * The SQLite store's sessions (src/db/sqlite/schema.ts, `sessions`): the rows
 * written with a family's first token, their ending by whatever revokes the
 * family, and the denylist that refuses an ended session's access tokens on
 * every request without reading the table.
 *
 * The denylist: the ids of ended sessions whose access tokens may still be
 * alive (`access_expires_at` ahead), in memory. Any connection that ends a
 * session (this one, another instance's, the rotation writer's on reuse, the
 * sqlite3 shell) moves `user_changes` row 2 (a trigger); the version is read
 * once per turn of the event loop, as the user cache reads row 1, and the set
 * is read again (one indexed query) only when it moved. This connection's own
 * endings mark the turn unchecked, so that the very next request sees them.
 */

interface SessionStatements {
  insert: Database.Statement
  endFamily: Database.Statement
  endUser: Database.Statement
  purge: Database.Statement
}

export function sqliteSessions (sqlite: Database.Database, write: <T>(fn: () => T) => T, nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {
  const statements: SessionStatements = {
    insert: sqlite.prepare('INSERT INTO sessions (id, user_id, method, user_agent, ip, created_at, last_used_at, expires_at, access_expires_at) ' +
      'VALUES (@id, @userId, @method, @userAgent, @ip, @createdAt, @createdAt, @expiresAt, @accessExpiresAt)'),
    endFamily: sqlite.prepare('UPDATE sessions SET ended_at = @nowSeconds WHERE id = @familyId AND user_id = @userId AND ended_at IS NULL'),
    endUser: sqlite.prepare('UPDATE sessions SET ended_at = @nowSeconds WHERE user_id = @userId AND ended_at IS NULL'),
    purge: sqlite.prepare('DELETE FROM sessions WHERE (ended_at IS NOT NULL OR expires_at < @nowSeconds) AND access_expires_at < @nowSeconds')
  }
  const version = sqlite.prepare('SELECT version FROM user_changes WHERE id = 2').pluck()
  const ended = sqlite.prepare<[number], { id: string, accessExpiresAt: number }>('SELECT id, access_expires_at AS accessExpiresAt FROM sessions WHERE ended_at IS NOT NULL AND access_expires_at > ?')
  const byUser = sqlite.prepare<[string, number], Session>('SELECT id, user_id AS userId, method, user_agent AS userAgent, ip, created_at AS createdAt, ' +
    'last_used_at AS lastUsedAt, expires_at AS expiresAt, access_expires_at AS accessExpiresAt, ended_at AS endedAt ' +
    'FROM sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id DESC')
  const revokeFamily = sqlite.prepare("UPDATE refresh_tokens SET revoked_at = @nowSeconds, revoke_reason = 'logout' WHERE user_id = @userId AND family_id = @familyId AND revoked_at IS NULL")

  /** Session id → its access_expires_at. */
  let denied = new Map<string, number>()
  let seen: unknown
  let checked = false
  const uncheck = (): void => { checked = false }

  const end = sqlite.transaction((userId: string, familyId: string, now: number): boolean => {
    if (statements.endFamily.run({ userId, familyId, nowSeconds: now }).changes !== 1) return false
    revokeFamily.run({ userId, familyId, nowSeconds: now })
    return true
  })

  return {
    /** Inside the transaction storing `token` (a family's first): its session's row, if it has one. */
    insert (token: NewRefreshToken): void {
      if (token.session === undefined) return
      const { method, userAgent, ip, accessExpiresAt } = token.session
      statements.insert.run({ id: token.familyId, userId: token.userId, method, userAgent, ip, createdAt: token.createdAt, expiresAt: token.expiresAt, accessExpiresAt })
    },
    /**
     * Inside the purge's transaction: sessions over (ended, or their refresh
     * token expired) whose access tokens have all expired are deleted.
     */
    purge (now: number): void {
      statements.purge.run({ nowSeconds: now })
    },
    /** Inside the transaction revoking a family's tokens: its session ends. */
    endFamily (userId: string, familyId: string, now: number): void {
      if (statements.endFamily.run({ userId, familyId, nowSeconds: now }).changes > 0) checked = false
    },
    /** Inside the transaction revoking every token of a user: every session of theirs ends. */
    endUser (userId: string, now: number): void {
      if (statements.endUser.run({ userId, nowSeconds: now }).changes > 0) checked = false
    },
    api: {
      async byUser (userId: string, now: number): Promise<Session[]> { return byUser.all(userId, now) },
      async end (userId: string, id: string, now: number): Promise<boolean> {
        const done = write(() => end.immediate(userId, id, now))
        if (done) checked = false
        return done
      },
      endedNow (id: string): boolean {
        if (!checked) {
          const current = version.get() // may throw (storage fault): then nothing is marked checked
          if (current !== seen) {
            const now = nowSeconds()
            denied = new Map(ended.all(now).map((row) => [row.id, row.accessExpiresAt]))
            seen = current
          }
          checked = true
          setImmediate(uncheck)
        }
        return denied.has(id)
      }
    }
  }
}
