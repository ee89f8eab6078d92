import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { NewPasskey, Store } from '../../src/db/store.js'
import { storeDatabases } from '../helpers/store.js'

/*
 * The passkey tables' store methods, on both stores: challenges used up once
 * (also by concurrent callers, and by a second store on the same database),
 * the counter updated only from the value compared, the last-way-to-log-in
 * rule decided inside the removal's transaction, and the cascade from users.
 */

const NOW = Math.floor(Date.now() / 1000)

async function newUser (store: Store, passwordHash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g'): Promise<string> {
  const id = randomUUID()
  await store.users.create({ id, email: `p-${id}@example.com`, passwordHash, name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null })
  return id
}

const passkey = (userId: string, over: Partial<NewPasskey> = {}): NewPasskey =>
  ({ id: randomUUID(), userId, publicKey: 'cHVibGlj', counter: 0, transports: 'internal', backedUp: false, name: 'Passkey', createdAt: NOW, ...over })

for (const [kind, database] of storeDatabases) {
  t.test(kind, async (t) => {
    const db = await database(t)
    const store = await db.open()
    const other = await db.open()

    t.test('a challenge is used up once: concurrent consumers on two stores, one gets it', async (t) => {
      const userId = await newUser(store)
      const challenge = randomUUID()
      await store.webauthnChallenges.create({ id: randomUUID(), userId, purpose: 'registration', challenge, expiresAt: NOW + 300 })
      t.equal(await store.webauthnChallenges.consume(challenge, 'authentication', NOW), undefined, 'not for another purpose')
      t.equal(await store.webauthnChallenges.consume(challenge, 'registration', NOW, randomUUID()), undefined, 'not for another user')
      const results = await Promise.all([store, other, store, other].map(async (s) => await s.webauthnChallenges.consume(challenge, 'registration', NOW, userId)))
      t.equal(results.filter((r) => r !== undefined).length, 1, 'exactly one consumer got it')
      t.match(results.find((r) => r !== undefined), { challenge, userId, purpose: 'registration' })

      const late = randomUUID()
      await store.webauthnChallenges.create({ id: randomUUID(), userId: null, purpose: 'authentication', challenge: late, expiresAt: NOW + 10 })
      t.equal(await store.webauthnChallenges.consume(late, 'authentication', NOW + 10), undefined, 'expired at its expiry')
      t.equal(await store.webauthnChallenges.purgeExpired(NOW + 10), 1, 'and purged')
    })

    t.test('create, list, rename; a credential id is registered once', async (t) => {
      const userId = await newUser(store)
      const first = passkey(userId, { createdAt: NOW - 10 })
      t.equal(await store.passkeys.create(first), true)
      t.equal(await store.passkeys.create({ ...first, userId: await newUser(store) }), false, 'the same credential id for anyone')
      const second = passkey(userId)
      await store.passkeys.create(second)
      t.same((await store.passkeys.byUser(userId)).map((p) => p.id), [first.id, second.id], 'oldest first')
      t.match(await store.passkeys.rename(userId, first.id, 'Laptop'), { id: first.id, name: 'Laptop' })
      t.equal(await store.passkeys.rename(randomUUID(), first.id, 'Mine'), undefined, 'not another user\'s')
      t.same(await store.passkeys.byId(first.id), { ...first, name: 'Laptop', lastUsedAt: null })
    })

    t.test('recordUse writes only from the counter compared', async (t) => {
      const userId = await newUser(store)
      const p = passkey(userId, { counter: 5 })
      await store.passkeys.create(p)
      const both = await Promise.all([store.passkeys.recordUse(p.id, 5, 6, true, NOW), other.passkeys.recordUse(p.id, 5, 7, true, NOW)])
      t.same(both.sort(), [false, true], 'of two racing sign-ins from one counter value, one writes')
      t.match(await store.passkeys.byId(p.id), { backedUp: true, lastUsedAt: NOW })
    })

    t.test('remove: another user\'s is not_found; the last way to log in is kept, also against concurrent removals', async (t) => {
      const userId = await newUser(store, '!unusable')
      const a = passkey(userId)
      const b = passkey(userId)
      await store.passkeys.create(a)
      await store.passkeys.create(b)
      const keep = (user: { passwordHash: string }, left: number): boolean => left > 0 || !user.passwordHash.startsWith('!')
      t.equal(await store.passkeys.remove(randomUUID(), a.id, keep), 'not_found')
      const outcomes = await Promise.all([store.passkeys.remove(userId, a.id, keep), other.passkeys.remove(userId, b.id, keep)])
      t.same(outcomes.sort(), ['last_login_method', 'removed'], 'two concurrent removals cannot take both')
      t.equal((await store.passkeys.byUser(userId)).length, 1)

      const withPassword = await newUser(store)
      const c = passkey(withPassword)
      await store.passkeys.create(c)
      t.equal(await store.passkeys.remove(withPassword, c.id, keep), 'removed', 'a user with a password may remove the last one')
    })

    t.test('deleting a user deletes its passkeys and challenges', async (t) => {
      const userId = await newUser(store)
      const p = passkey(userId)
      await store.passkeys.create(p)
      const challenge = randomUUID()
      await store.webauthnChallenges.create({ id: randomUUID(), userId, purpose: 'registration', challenge, expiresAt: NOW + 300 })
      await store.users.remove(userId)
      t.equal(await store.passkeys.byId(p.id), undefined)
      t.equal(await store.webauthnChallenges.consume(challenge, 'registration', NOW), undefined)
    })
  })
}
