import { and, count, eq, gt, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm'
import type { NodePgDatabase } from 'drizzle-orm/node-postgres'
import type { Store } from '../store.js'
import type { Tx } from './connection.js'
import * as schema from './schema.js'

const { mfaTotp, mfaRecoveryCodes, mfaChallenges } = schema

/**
 * The second factor's tables (src/db/store.ts, `mfa`) on PostgreSQL. The
 * checks of the multi-step writes lock the row they decide on (FOR UPDATE, or
 * the conditional UPDATE itself), so concurrent instances cannot both pass.
 */
export function postgresMfaStore (db: NodePgDatabase<typeof schema>, inTransaction: <T>(work: (tx: Tx) => Promise<T>) => Promise<T>): Store['mfa'] {
  // Asked on every password login (has the user a second factor?): a named statement, parsed once per connection.
  const totpOf = db.select().from(mfaTotp).where(eq(mfaTotp.userId, sql.placeholder('userId'))).limit(1).prepare('auth_totp_of')
  const enabled = (userId: string) => and(eq(mfaTotp.userId, userId), isNotNull(mfaTotp.enabledAt))
  const insertCodes = async (tx: Tx, userId: string, codeHashes: string[], nowSeconds: number): Promise<void> => {
    await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId))
    if (codeHashes.length > 0) await tx.insert(mfaRecoveryCodes).values(codeHashes.map((codeHash) => ({ userId, codeHash, createdAt: nowSeconds })))
  }

  return {
    totp: async (userId) => (await totpOf.execute({ userId }))[0],
    // One statement: the upsert only touches a pending row (its WHERE), so an
    // enabled TOTP is never replaced, whoever confirms at the same time.
    beginTotp: async (userId, secret, nowSeconds) => ((await db.insert(mfaTotp).values({ userId, secret, createdAt: nowSeconds })
      .onConflictDoUpdate({ target: mfaTotp.userId, set: { secret, createdAt: nowSeconds, lastStep: 0 }, setWhere: isNull(mfaTotp.enabledAt) })).rowCount ?? 0) === 1,
    enableTotp: async (userId, secret, step, codeHashes, nowSeconds) => await inTransaction(async (tx) => {
      const changed = await tx.update(mfaTotp).set({ enabledAt: nowSeconds, lastStep: step })
        .where(and(eq(mfaTotp.userId, userId), eq(mfaTotp.secret, secret), isNull(mfaTotp.enabledAt))).returning({ userId: mfaTotp.userId })
      if (changed.length !== 1) return false
      await insertCodes(tx, userId, codeHashes, nowSeconds)
      return true
    }),
    useStep: async (userId, step) =>
      ((await db.update(mfaTotp).set({ lastStep: step }).where(and(enabled(userId), lt(mfaTotp.lastStep, step)))).rowCount ?? 0) === 1,
    disable: async (userId) => await inTransaction(async (tx) => {
      const [removed] = await tx.delete(mfaTotp).where(eq(mfaTotp.userId, userId)).returning({ enabledAt: mfaTotp.enabledAt })
      await tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId))
      await tx.delete(mfaChallenges).where(eq(mfaChallenges.userId, userId))
      return removed !== undefined && removed.enabledAt !== null
    }),
    replaceRecoveryCodes: async (userId, codeHashes, nowSeconds) => await inTransaction(async (tx) => {
      const [row] = await tx.select({ userId: mfaTotp.userId }).from(mfaTotp).where(enabled(userId)).for('update')
      if (row === undefined) return false
      await insertCodes(tx, userId, codeHashes, nowSeconds)
      return true
    }),
    useRecoveryCode: async (userId, codeHash, nowSeconds) => ((await db.update(mfaRecoveryCodes).set({ usedAt: nowSeconds })
      .where(and(eq(mfaRecoveryCodes.userId, userId), eq(mfaRecoveryCodes.codeHash, codeHash), isNull(mfaRecoveryCodes.usedAt)))).rowCount ?? 0) === 1,
    recoveryCodesLeft: async (userId) =>
      (await db.select({ n: count() }).from(mfaRecoveryCodes).where(and(eq(mfaRecoveryCodes.userId, userId), isNull(mfaRecoveryCodes.usedAt))))[0]?.n ?? 0,
    createChallenge: async (challenge) => { await db.insert(mfaChallenges).values(challenge) },
    challenge: async (id, nowSeconds, maxFailures) => (await db.select().from(mfaChallenges)
      .where(and(eq(mfaChallenges.id, id), gt(mfaChallenges.expiresAt, nowSeconds), lt(mfaChallenges.failures, maxFailures))).limit(1))[0],
    failChallenge: async (id, maxFailures) => {
      const [row] = await db.update(mfaChallenges).set({ failures: sql`${mfaChallenges.failures} + 1` }).where(eq(mfaChallenges.id, id)).returning({ failures: mfaChallenges.failures })
      const failures = row?.failures ?? 0
      if (failures >= maxFailures) await db.delete(mfaChallenges).where(eq(mfaChallenges.id, id))
      return failures
    },
    consumeChallenge: async (id, nowSeconds) =>
      (await db.delete(mfaChallenges).where(and(eq(mfaChallenges.id, id), gt(mfaChallenges.expiresAt, nowSeconds))).returning())[0],
    purgeExpiredChallenges: async (nowSeconds) => (await db.delete(mfaChallenges).where(lte(mfaChallenges.expiresAt, nowSeconds))).rowCount ?? 0
  }
}
