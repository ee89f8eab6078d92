import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { NewPasskey, Store } from '../../src/db/store.js'
import { storeDatabases } from '../helpers/store.js'

/*
 * Store.socialIdentities on both stores: the sign-up's user and identity in
 * one transaction (neither when the email exists), one identity per provider
 * account and per user and provider, the last-way-to-log-in rule decided
 * inside the removal, passkey removal counting identities, the cascade.
 */

const NOW = Math.floor(Date.now() / 1000)
const ARGON = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g'

const newUser = (passwordHash = ARGON) => {
  const id = randomUUID()
  return { id, email: `s-${id}@example.com`, passwordHash, name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null, emailVerified: true }
}
const identity = (userId: string, provider = 'google', subject = randomUUID()) =>
  ({ id: randomUUID(), userId, provider, subject, email: 'x@example.com', createdAt: NOW })
const passkey = (userId: string): NewPasskey =>
  ({ id: randomUUID(), userId, publicKey: 'cHVibGlj', counter: 0, transports: 'internal', backedUp: false, name: 'Passkey', createdAt: NOW })

for (const [kind, database] of storeDatabases) {
  t.test(kind, async (t) => {
    const db = await database(t)
    const store: Store = await db.open()

    t.test('sign-up stores the user and the identity together, or neither', async (t) => {
      const user = newUser('!unusable')
      const id = identity(user.id)
      const created = await store.socialIdentities.signUp(user, id)
      t.equal(created.id, user.id)
      t.equal(created.emailVerified, true)
      t.match(await store.socialIdentities.byProviderSubject('google', id.subject), { userId: user.id, lastUsedAt: null })
      // The same email again: refused, and the second identity is not stored.
      const again = { ...newUser(), email: user.email }
      const second = identity(again.id)
      await t.rejects(store.socialIdentities.signUp(again, second), { code: 'EMAIL_TAKEN' })
      t.equal(await store.socialIdentities.byProviderSubject('google', second.subject), undefined)
      t.equal(await store.users.byId(again.id), undefined)
    })

    t.test('one identity per provider account, and per user and provider', async (t) => {
      const a = newUser()
      await store.users.create(a)
      const b = newUser()
      await store.users.create(b)
      const first = identity(a.id, 'kakao')
      t.equal(await store.socialIdentities.link(first), true)
      t.equal(await store.socialIdentities.link({ ...identity(b.id, 'kakao'), subject: first.subject }), false, 'that provider account is a\'s')
      t.equal(await store.socialIdentities.link(identity(a.id, 'kakao')), false, 'a has a kakao account linked already')
      t.equal(await store.socialIdentities.link(identity(a.id, 'github')), true)
      t.same((await store.socialIdentities.byUser(a.id)).map((i) => i.provider).sort(), ['github', 'kakao'])
      await store.socialIdentities.recordUse(first.id, 'new@example.com', NOW + 5)
      t.match(await store.socialIdentities.byProviderSubject('kakao', first.subject), { email: 'new@example.com', lastUsedAt: NOW + 5 })
    })

    t.test('removal: refused by keep with what is left, not_found for another provider', async (t) => {
      const user = newUser('!unusable')
      await store.users.create(user)
      await store.socialIdentities.link(identity(user.id, 'google'))
      await store.socialIdentities.link(identity(user.id, 'naver'))
      const seen: unknown[] = []
      const keep = (_u: unknown, left: { passkeys: number, identities: number }) => { seen.push(left); return left.identities > 0 || left.passkeys > 0 }
      t.equal(await store.socialIdentities.remove(user.id, 'github', keep), 'not_found')
      t.equal(await store.socialIdentities.remove(user.id, 'google', keep), 'removed')
      t.equal(await store.socialIdentities.remove(user.id, 'naver', keep), 'last_login_method')
      t.same(seen, [{ passkeys: 0, identities: 1 }, { passkeys: 0, identities: 0 }])
      await store.passkeys.create(passkey(user.id))
      t.equal(await store.socialIdentities.remove(user.id, 'naver', keep), 'removed', 'a passkey is a way to log in')
    })

    t.test('passkey removal counts the social identities', async (t) => {
      const user = newUser('!unusable')
      await store.users.create(user)
      const key = passkey(user.id)
      await store.passkeys.create(key)
      await store.socialIdentities.link(identity(user.id))
      let methods: unknown
      t.equal(await store.passkeys.remove(user.id, key.id, (_u, left, m) => { methods = m; return left > 0 || m.identities > 0 }), 'removed')
      t.same(methods, { passkeys: 0, identities: 1 })
    })

    t.test('identities go with their user; importMany skips those present', async (t) => {
      const user = newUser()
      await store.users.create(user)
      const rows = [identity(user.id, 'google'), identity(user.id, 'kakao')]
      t.equal(await store.socialIdentities.importMany(rows), 2)
      t.equal(await store.socialIdentities.importMany(rows), 0)
      await store.users.remove(user.id)
      t.equal(await store.socialIdentities.byProviderSubject('google', rows[0]!.subject), undefined)
    })
  })
}
