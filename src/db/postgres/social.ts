import { and, asc, count, eq, ne, sql } from 'drizzle-orm'
import type { NodePgDatabase } from 'drizzle-orm/node-postgres'
import { EmailTakenError } from '../../errors.js'
import type { SocialIdentityRemoval, SocialIdentityStore } from '../store.js'
import type { Tx } from './connection.js'
import { codeOf, unwrap } from './errors.js'
import * as schema from './schema.js'

const { users, passkeys, socialIdentities } = schema

/** Store.socialIdentities on PostgreSQL; `inTransaction` is the store's (REPEATABLE READ, retried on serialisation failures). */
export function postgresSocialIdentities (db: NodePgDatabase<typeof schema>, inTransaction: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>): SocialIdentityStore {
  return {
    byProviderSubject: async (provider, subject) =>
      (await db.select().from(socialIdentities).where(and(eq(socialIdentities.provider, provider), eq(socialIdentities.subject, subject))).limit(1))[0],
    byUser: async (userId) =>
      await db.select().from(socialIdentities).where(eq(socialIdentities.userId, userId)).orderBy(asc(socialIdentities.createdAt), asc(socialIdentities.id)),
    signUp: async (user, identity) => {
      try {
        return await inTransaction(async (tx) => {
          const [row] = await tx.insert(users).values(user).returning()
          if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
          await tx.insert(socialIdentities).values(identity)
          return row
        })
      } catch (err) {
        if (codeOf(unwrap(err)) === '23505') throw new EmailTakenError()
        throw err
      }
    },
    link: async (identity) => ((await db.insert(socialIdentities).values(identity).onConflictDoNothing()).rowCount ?? 0) === 1,
    recordUse: async (id, email, nowSeconds) => {
      await db.update(socialIdentities).set({ email, lastUsedAt: nowSeconds }).where(eq(socialIdentities.id, id))
    },
    // As passkeys.remove: the user's row is written first so that two removals
    // for one user serialise, and the second counts what the first left.
    remove: async (userId, provider, keep) => await inTransaction(async (tx): Promise<SocialIdentityRemoval> => {
      const [user] = await tx.update(users).set({ id: sql`${users.id}` }).where(eq(users.id, userId)).returning()
      const [found] = await tx.select({ id: socialIdentities.id }).from(socialIdentities)
        .where(and(eq(socialIdentities.userId, userId), eq(socialIdentities.provider, provider))).limit(1)
      if (user === undefined || found === undefined) return 'not_found'
      const [identities] = await tx.select({ n: count() }).from(socialIdentities).where(and(eq(socialIdentities.userId, userId), ne(socialIdentities.id, found.id)))
      const [keys] = await tx.select({ n: count() }).from(passkeys).where(eq(passkeys.userId, userId))
      if (!keep(user, { passkeys: keys?.n ?? 0, identities: identities?.n ?? 0 })) return 'last_login_method'
      await tx.delete(socialIdentities).where(eq(socialIdentities.id, found.id))
      return 'removed'
    }),
    importMany: async (rows) => {
      if (rows.length === 0) return 0
      return (await db.insert(socialIdentities).values(rows).onConflictDoNothing()).rowCount ?? 0
    }
  }
}
