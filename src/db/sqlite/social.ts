import type Database from 'better-sqlite3'
import { and, asc, count, eq, ne } from 'drizzle-orm'
import type { drizzle } from 'drizzle-orm/better-sqlite3'
import { EmailTakenError } from '../../errors.js'
import type { NewSocialIdentity, NewUser, SocialIdentityRemoval, SocialIdentityStore, User } from '../store.js'
import { isUniqueViolation } from './errors.js'
import * as schema from './schema.js'

const { users, passkeys, socialIdentities } = schema

/** Store.socialIdentities on SQLite; `write` runs a write under the store's write guard. */
export function sqliteSocialIdentities (sqlite: Database.Database, db: ReturnType<typeof drizzle<typeof schema>>, write: <T>(fn: () => T) => T): SocialIdentityStore {
  const signUp = sqlite.transaction((user: NewUser, identity: NewSocialIdentity): User => {
    const [row] = db.insert(users).values(user).returning().all()
    if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
    db.insert(socialIdentities).values(identity).run()
    return row
  })
  // Under the file's write lock (BEGIN IMMEDIATE): what `keep` decides on cannot change before the delete.
  const remove = sqlite.transaction((userId: string, provider: string, keep: Parameters<SocialIdentityStore['remove']>[2]): SocialIdentityRemoval => {
    const found = db.select({ id: socialIdentities.id }).from(socialIdentities)
      .where(and(eq(socialIdentities.userId, userId), eq(socialIdentities.provider, provider))).get()
    const user = db.select().from(users).where(eq(users.id, userId)).get()
    if (found === undefined || user === undefined) return 'not_found'
    const [identities] = db.select({ n: count() }).from(socialIdentities).where(and(eq(socialIdentities.userId, userId), ne(socialIdentities.id, found.id))).all()
    const [keys] = db.select({ n: count() }).from(passkeys).where(eq(passkeys.userId, userId)).all()
    if (!keep(user, { passkeys: keys?.n ?? 0, identities: identities?.n ?? 0 })) return 'last_login_method'
    db.delete(socialIdentities).where(eq(socialIdentities.id, found.id)).run()
    return 'removed'
  })
  const importMany = sqlite.transaction((rows: NewSocialIdentity[]) =>
    rows.reduce((n, row) => n + db.insert(socialIdentities).values(row).onConflictDoNothing().run().changes, 0))

  return {
    async byProviderSubject (provider, subject) {
      return db.select().from(socialIdentities).where(and(eq(socialIdentities.provider, provider), eq(socialIdentities.subject, subject))).get()
    },
    async byUser (userId) {
      return db.select().from(socialIdentities).where(eq(socialIdentities.userId, userId)).orderBy(asc(socialIdentities.createdAt), asc(socialIdentities.id)).all()
    },
    async signUp (user, identity) {
      try {
        return write(() => signUp.immediate(user, identity))
      } catch (err) {
        if (isUniqueViolation(err)) throw new EmailTakenError()
        throw err
      }
    },
    async link (identity) {
      return write(() => db.insert(socialIdentities).values(identity).onConflictDoNothing().run().changes) === 1
    },
    async recordUse (id, email, nowSeconds) {
      write(() => db.update(socialIdentities).set({ email, lastUsedAt: nowSeconds }).where(eq(socialIdentities.id, id)).run())
    },
    async remove (userId, provider, keep) { return write(() => remove.immediate(userId, provider, keep)) },
    async importMany (rows) { return rows.length === 0 ? 0 : write(() => importMany.immediate(rows)) }
  }
}
