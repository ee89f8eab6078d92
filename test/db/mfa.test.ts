import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { Store } from '../../src/db/store.js'
import { storeDatabases } from '../helpers/store.js'

/*
 * The second factor's store methods, on both stores: one pending secret that
 * an enabled one is never replaced by, enabling only the secret checked, a
 * step used once (also by concurrent callers on two stores), recovery codes
 * used once and replaced as a set, the challenge's expiry and failure count,
 * and the cascade from users.
 */

const NOW = Math.floor(Date.now() / 1000)
const STEP = Math.floor(NOW / 30)

async function newUser (store: Store): Promise<string> {
  const id = randomUUID()
  await store.users.create({ id, email: `m-${id}@example.com`, passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null })
  return id
}

const challenge = (userId: string, over: Partial<{ id: string, expiresAt: number }> = {}) =>
  ({ id: randomUUID(), userId, passwordFingerprint: 'fp', rehashedPassword: null, expiresAt: NOW + 300, createdAt: NOW, ...over })

for (const [kind, database] of storeDatabases) {
  t.test(kind, async (t) => {
    const db = await database(t)
    const store = await db.open()
    const other = await db.open()

    t.test('a pending secret is replaced by a new setup; once enabled it is not', async (t) => {
      const userId = await newUser(store)
      t.equal(await store.mfa.totp(userId), undefined)
      t.equal(await store.mfa.beginTotp(userId, 'FIRST', NOW), true)
      t.equal(await store.mfa.beginTotp(userId, 'SECOND', NOW + 1), true)
      t.match(await store.mfa.totp(userId), { userId, secret: 'SECOND', enabledAt: null, createdAt: NOW + 1, lastStep: 0 })
      t.equal(await store.mfa.enableTotp(userId, 'FIRST', STEP, ['h1'], NOW), false, 'not the secret the code was checked against')
      t.equal(await store.mfa.useStep(userId, STEP), false, 'no step is used while pending')
      t.equal(await store.mfa.enableTotp(userId, 'SECOND', STEP, ['h1', 'h2'], NOW + 2), true)
      t.equal(await store.mfa.enableTotp(userId, 'SECOND', STEP, ['h3'], NOW + 2), false, 'enabled once')
      t.match(await store.mfa.totp(userId), { secret: 'SECOND', enabledAt: NOW + 2, lastStep: STEP })
      t.equal(await store.mfa.recoveryCodesLeft(userId), 2)
      t.equal(await store.mfa.beginTotp(userId, 'THIRD', NOW + 3), false, 'an enabled secret stays')
      t.match(await store.mfa.totp(userId), { secret: 'SECOND', enabledAt: NOW + 2 })
    })

    t.test('a step is used once, only after the last one: concurrent uses on two stores, one wins', async (t) => {
      const userId = await newUser(store)
      await store.mfa.beginTotp(userId, 'S', NOW)
      await store.mfa.enableTotp(userId, 'S', STEP, [], NOW)
      t.equal(await store.mfa.useStep(userId, STEP), false, 'the confirming step')
      t.equal(await store.mfa.useStep(userId, STEP - 1), false, 'an earlier one')
      const results = await Promise.all([store, other, store, other].map(async (s) => await s.mfa.useStep(userId, STEP + 1)))
      t.equal(results.filter(Boolean).length, 1, 'exactly one')
      t.equal((await store.mfa.totp(userId))?.lastStep, STEP + 1)
    })

    t.test('recovery codes: each used once (concurrently too); a new set replaces the old; none while TOTP is off', async (t) => {
      const userId = await newUser(store)
      t.equal(await store.mfa.replaceRecoveryCodes(userId, ['x'], NOW), false, 'TOTP off')
      await store.mfa.beginTotp(userId, 'S', NOW)
      t.equal(await store.mfa.replaceRecoveryCodes(userId, ['x'], NOW), false, 'TOTP pending')
      await store.mfa.enableTotp(userId, 'S', STEP, ['a', 'b'], NOW)
      const uses = await Promise.all([store, other, store].map(async (s) => await s.mfa.useRecoveryCode(userId, 'a', NOW)))
      t.equal(uses.filter(Boolean).length, 1)
      t.equal(await store.mfa.recoveryCodesLeft(userId), 1)
      t.equal(await store.mfa.useRecoveryCode(await newUser(store), 'b', NOW), false, 'another user\'s code')
      t.equal(await store.mfa.replaceRecoveryCodes(userId, ['c', 'd', 'e'], NOW), true)
      t.equal(await store.mfa.useRecoveryCode(userId, 'b', NOW), false, 'the old set is gone')
      t.equal(await store.mfa.recoveryCodesLeft(userId), 3)
    })

    t.test('challenges: unexpired and under the failure limit; the limit deletes; consumed once', async (t) => {
      const userId = await newUser(store)
      const c = challenge(userId)
      await store.mfa.createChallenge(c)
      t.match(await store.mfa.challenge(c.id, NOW, 5), { ...c, failures: 0 })
      t.equal(await store.mfa.challenge(c.id, NOW + 300, 5), undefined, 'expired at its expiry')
      t.equal(await store.mfa.consumeChallenge(c.id, NOW + 300), undefined, 'and not consumed then')
      for (let i = 1; i <= 4; i++) t.equal(await store.mfa.failChallenge(c.id, 5), i)
      t.equal((await store.mfa.challenge(c.id, NOW, 5))?.failures, 4)
      t.equal(await store.mfa.failChallenge(c.id, 5), 5)
      t.equal(await store.mfa.challenge(c.id, NOW, 5), undefined, 'dead at 5')
      t.equal(await store.mfa.failChallenge(c.id, 5), 0, 'deleted')

      const d = challenge(userId)
      await store.mfa.createChallenge(d)
      const consumed = await Promise.all([store, other, store, other].map(async (s) => await s.mfa.consumeChallenge(d.id, NOW)))
      t.equal(consumed.filter((x) => x !== undefined).length, 1, 'one consumer')

      const old = challenge(userId, { expiresAt: NOW - 1 })
      await store.mfa.createChallenge(old)
      t.ok(await store.mfa.purgeExpiredChallenges(NOW) >= 1)
      t.equal(await store.mfa.challenge(old.id, NOW - 10, 5), undefined, 'purged')
    })

    t.test('disable deletes the secret, the codes and the waiting logins; says whether TOTP was on', async (t) => {
      const userId = await newUser(store)
      await store.mfa.beginTotp(userId, 'S', NOW)
      t.equal(await store.mfa.disable(userId), false, 'only pending')
      t.equal(await store.mfa.totp(userId), undefined)
      await store.mfa.beginTotp(userId, 'S', NOW)
      await store.mfa.enableTotp(userId, 'S', STEP, ['a'], NOW)
      const c = challenge(userId)
      await store.mfa.createChallenge(c)
      t.equal(await store.mfa.disable(userId), true)
      t.equal(await store.mfa.totp(userId), undefined)
      t.equal(await store.mfa.recoveryCodesLeft(userId), 0)
      t.equal(await store.mfa.challenge(c.id, NOW, 5), undefined)
    })

    t.test('deleting the user deletes its second factor (cascade)', async (t) => {
      const userId = await newUser(store)
      await store.mfa.beginTotp(userId, 'S', NOW)
      await store.mfa.enableTotp(userId, 'S', STEP, ['a'], NOW)
      const c = challenge(userId)
      await store.mfa.createChallenge(c)
      await store.users.remove(userId)
      t.equal(await store.mfa.totp(userId), undefined)
      t.equal(await store.mfa.recoveryCodesLeft(userId), 0)
      t.equal(await store.mfa.challenge(c.id, NOW, 5), undefined)
    })
  })
}
