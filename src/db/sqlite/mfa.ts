import type Database from 'better-sqlite3'
import { and, count, eq, gt, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm'
import type { drizzle } from 'drizzle-orm/better-sqlite3'
import type { Store } from '../store.js'
import * as schema from './schema.js'

const { mfaTotp, mfaRecoveryCodes, mfaChallenges } = schema

type Db = ReturnType<typeof drizzle<typeof schema>>

/**
 * The second factor's tables (src/db/store.ts, `mfa`) on SQLite. The multi-step
 * writes run as BEGIN IMMEDIATE transactions: what they check is read under
 * the file's write lock, so it cannot change before they write.
 */
export function sqliteMfaStore (sqlite: Database.Database, db: Db, write: <T>(fn: () => T) => T): Store['mfa'] {
  // Asked on every password login (has the user a second factor?): prepared once.
  const totpOf = db.select().from(mfaTotp).where(eq(mfaTotp.userId, sql.placeholder('userId'))).prepare()
  const enabled = (userId: string) => and(eq(mfaTotp.userId, userId), isNotNull(mfaTotp.enabledAt))
  const insertCodes = (userId: string, codeHashes: string[], nowSeconds: number): void => {
    db.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId)).run()
    if (codeHashes.length > 0) db.insert(mfaRecoveryCodes).values(codeHashes.map((codeHash) => ({ userId, codeHash, createdAt: nowSeconds }))).run()
  }
  const beginTotp = sqlite.transaction((userId: string, secret: string, nowSeconds: number): boolean => {
    if (db.select({ userId: mfaTotp.userId }).from(mfaTotp).where(enabled(userId)).get() !== undefined) return false
    db.insert(mfaTotp).values({ userId, secret, createdAt: nowSeconds })
      .onConflictDoUpdate({ target: mfaTotp.userId, set: { secret, createdAt: nowSeconds, lastStep: 0 } }).run()
    return true
  })
  const enableTotp = sqlite.transaction((userId: string, secret: string, step: number, codeHashes: string[], nowSeconds: number): boolean => {
    const changed = db.update(mfaTotp).set({ enabledAt: nowSeconds, lastStep: step })
      .where(and(eq(mfaTotp.userId, userId), eq(mfaTotp.secret, secret), isNull(mfaTotp.enabledAt))).run().changes
    if (changed !== 1) return false
    insertCodes(userId, codeHashes, nowSeconds)
    return true
  })
  const disable = sqlite.transaction((userId: string): boolean => {
    const wasEnabled = db.delete(mfaTotp).where(eq(mfaTotp.userId, userId)).returning({ enabledAt: mfaTotp.enabledAt }).all()[0]?.enabledAt != null
    db.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId)).run()
    db.delete(mfaChallenges).where(eq(mfaChallenges.userId, userId)).run()
    return wasEnabled
  })
  const replaceCodes = sqlite.transaction((userId: string, codeHashes: string[], nowSeconds: number): boolean => {
    if (db.select({ userId: mfaTotp.userId }).from(mfaTotp).where(enabled(userId)).get() === undefined) return false
    insertCodes(userId, codeHashes, nowSeconds)
    return true
  })
  const failChallenge = sqlite.transaction((id: string, maxFailures: number): number => {
    const failures = db.update(mfaChallenges).set({ failures: sql`${mfaChallenges.failures} + 1` }).where(eq(mfaChallenges.id, id))
      .returning({ failures: mfaChallenges.failures }).all()[0]?.failures ?? 0
    if (failures >= maxFailures) db.delete(mfaChallenges).where(eq(mfaChallenges.id, id)).run()
    return failures
  })

  return {
    async totp (userId) { return totpOf.get({ userId }) },
    async beginTotp (userId, secret, nowSeconds) { return write(() => beginTotp.immediate(userId, secret, nowSeconds)) },
    async enableTotp (userId, secret, step, codeHashes, nowSeconds) { return write(() => enableTotp.immediate(userId, secret, step, codeHashes, nowSeconds)) },
    async useStep (userId, step) {
      return write(() => db.update(mfaTotp).set({ lastStep: step }).where(and(enabled(userId), lt(mfaTotp.lastStep, step))).run().changes) === 1
    },
    async disable (userId) { return write(() => disable.immediate(userId)) },
    async replaceRecoveryCodes (userId, codeHashes, nowSeconds) { return write(() => replaceCodes.immediate(userId, codeHashes, nowSeconds)) },
    async useRecoveryCode (userId, codeHash, nowSeconds) {
      return write(() => db.update(mfaRecoveryCodes).set({ usedAt: nowSeconds })
        .where(and(eq(mfaRecoveryCodes.userId, userId), eq(mfaRecoveryCodes.codeHash, codeHash), isNull(mfaRecoveryCodes.usedAt))).run().changes) === 1
    },
    async recoveryCodesLeft (userId) {
      return db.select({ n: count() }).from(mfaRecoveryCodes).where(and(eq(mfaRecoveryCodes.userId, userId), isNull(mfaRecoveryCodes.usedAt))).all()[0]?.n ?? 0
    },
    async createChallenge (challenge) { write(() => db.insert(mfaChallenges).values(challenge).run()) },
    async challenge (id, nowSeconds, maxFailures) {
      return db.select().from(mfaChallenges).where(and(eq(mfaChallenges.id, id), gt(mfaChallenges.expiresAt, nowSeconds), lt(mfaChallenges.failures, maxFailures))).get()
    },
    async failChallenge (id, maxFailures) { return write(() => failChallenge.immediate(id, maxFailures)) },
    async consumeChallenge (id, nowSeconds) {
      return write(() => db.delete(mfaChallenges).where(and(eq(mfaChallenges.id, id), gt(mfaChallenges.expiresAt, nowSeconds))).returning().all())[0]
    },
    async purgeExpiredChallenges (nowSeconds) {
      return write(() => db.delete(mfaChallenges).where(lte(mfaChallenges.expiresAt, nowSeconds)).run().changes)
    }
  }
}
