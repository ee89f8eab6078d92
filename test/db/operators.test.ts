import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { ImportedUser, NewRefreshToken, NewUser } from '../../src/db/store.js'
import { storeToken } from '../helpers/app.js'
import { storeImplementations } from '../helpers/store.js'

/*
 * The store methods the command line and the Django migration add (issue 14),
 * run against SQLite and PostgreSQL alike.
 */

const NOW = Math.floor(Date.now() / 1000)

function newUser (over: Partial<NewUser> = {}): NewUser {
  const id = randomUUID()
  return { id, email: `${id}@example.test`, passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$x$y', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(1_700_000_000_123), lastLogin: null, ...over }
}

function imported (over: Partial<ImportedUser> = {}): ImportedUser {
  return { ...newUser(), isActive: true, isStaff: false, isSuperuser: false, emailVerified: false, legacyId: randomUUID(), ...over }
}

const token = (userId: string, over: Partial<NewRefreshToken> = {}): NewRefreshToken =>
  ({ id: randomUUID(), userId, familyId: randomUUID(), expiresAt: NOW + 3600, createdAt: NOW, ...over })

const isDjango = (hash: string): boolean => hash.startsWith('pbkdf2_')

for (const [kind, open] of storeImplementations) {
  t.test(kind, async (t) => {
    const store = await open(t)

    t.test('list: in the order users joined (then id), paged by limit and offset; count counts', async (t) => {
      // Earlier than any other user of this database, so they come first.
      const at = (ms: number): Date => new Date(Date.UTC(1990, 0, 1) + ms)
      const sameTime = ['ffffffff-0000-4000-8000-000000000000', '00000000-0000-4000-8000-000000000000']
      await store.users.create(newUser({ email: 'user1000@list.test', dateJoined: at(2) }))
      await store.users.create(newUser({ email: 'user2@list.test', dateJoined: at(1) }))
      for (const id of sameTime) await store.users.create(newUser({ id, email: `${id}@list.test`, dateJoined: at(3) }))
      const first = await store.users.list(3)
      t.same(first.map((u) => u.email), ['user2@list.test', 'user1000@list.test', `${sameTime[1] ?? ''}@list.test`], 'by date joined, then by id')
      const next = await store.users.list(2, 3)
      t.equal(next[0]?.email, `${sameTime[0] ?? ''}@list.test`)
      t.same((await store.users.list(1, 1)).map((u) => u.email), ['user1000@list.test'], 'offset')
      t.ok(await store.users.count() >= 4)
    })

    t.test('verifyEmails marks the unverified ones of these addresses verified, and forgets their cached rows', async (t) => {
      const a = await store.users.create(newUser({ email: 'a@verify-many.test' }))
      await store.users.create(newUser({ email: 'b@verify-many.test', emailVerified: true }))
      t.equal((await store.users.byId(a.id))?.emailVerified, false, 'cached unverified')
      t.equal(await store.users.verifyEmails(['a@verify-many.test', 'b@verify-many.test', 'nobody@verify-many.test']), 1, 'only a changed')
      t.equal((await store.users.byId(a.id))?.emailVerified, true, 'the cache does not serve the old row')
      t.equal(await store.users.verifyEmails([]), 0)
    })

    t.test('byEmails: the users among the addresses, the unknown ones absent', async (t) => {
      const a = await store.users.create(newUser({ email: 'a@many.test' }))
      const b = await store.users.create(newUser({ email: 'b@many.test' }))
      const found = await store.users.byEmails(['b@many.test', 'nobody@many.test', 'a@many.test'])
      t.same(found.map((u) => u.id).sort(), [a.id, b.id].sort())
      t.same(await store.users.byEmails([]), [])
    })

    t.test('refreshTokens.insertMany: every row stored, each a live token of its login', async (t) => {
      const user = await store.users.create(newUser())
      const rows = Array.from({ length: 3 }, () => token(user.id))
      t.equal(await store.refreshTokens.insertMany(rows), 3)
      for (const row of rows) t.match(await store.refreshTokens.byId(row.id), { userId: user.id, familyId: row.familyId, revokedAt: null })
      t.equal(await store.refreshTokens.insertMany([]), 0)
      t.equal(await store.refreshTokens.revokeUser(user.id, NOW), 3, 'revocable as any login')
    })

    t.test('refreshTokens.insertMany: one transaction — a failing row stores none', async (t) => {
      const user = await store.users.create(newUser())
      const good = token(user.id)
      await t.rejects(store.refreshTokens.insertMany([good, token('no-such-user')]))
      t.equal(await store.refreshTokens.byId(good.id), undefined)
    })

    t.test('a new user is active, not staff, not superuser, unverified, with no legacy id', async (t) => {
      const user = await store.users.create(newUser({ isStaff: true }))
      t.equal(user.isStaff, true)
      t.equal(user.isSuperuser, false)
      t.equal(user.emailVerified, false)
      t.equal(user.legacyId, null)
    })

    t.test('setPassword: new hash and every refresh token revoked, no new token', async (t) => {
      const user = await store.users.create(newUser())
      const tokens = [token(user.id), token(user.id)]
      for (const tok of tokens) await storeToken(store, tok)
      await store.users.setPassword(user.id, 'new-hash', NOW + 5)
      t.equal((await store.users.byId(user.id))?.passwordHash, 'new-hash')
      for (const tok of tokens) t.match(await store.refreshTokens.byId(tok.id), { revokedAt: NOW + 5, revokeReason: 'password_change' }, 'revoked as a password change: no grace window')
    })

    t.test('insertMany inserts in one go and leaves existing emails alone', async (t) => {
      const existing = await store.users.create(newUser({ email: 'seed-1@many.test', name: 'kept' }))
      const batch = [1, 2, 3].map((n) => newUser({ email: `seed-${n}@many.test` }))
      t.equal(await store.users.insertMany(batch), 2)
      t.equal((await store.users.byEmail('seed-1@many.test'))?.id, existing.id)
      t.ok(await store.users.byEmail('seed-3@many.test'))
      t.equal(await store.users.insertMany([]), 0)
    })

    t.test('importMany creates, then updates by email; a user\'s own hash survives a re-import', async (t) => {
      const a = imported({ email: 'a@import.test', passwordHash: 'pbkdf2_sha256$1$s$h', isStaff: true, isSuperuser: true, emailVerified: true, name: 'A' })
      const b = imported({ email: 'b@import.test', passwordHash: 'pbkdf2_sha256$1$s$h' })
      t.same(await store.users.importMany([a, b], isDjango), ['created', 'created'])
      const stored = await store.users.byLegacyId(a.legacyId)
      t.match(stored, { email: 'a@import.test', isStaff: true, isSuperuser: true, emailVerified: true, name: 'A', legacyId: a.legacyId })
      // b logs in here: its hash is no longer a Django hash.
      const bRow = await store.users.byEmail('b@import.test')
      await store.users.recordLogin(bRow!.id, new Date(), '$argon2id$own')
      const again = await store.users.importMany([
        { ...a, id: randomUUID(), name: 'A2', passwordHash: 'pbkdf2_sha256$2$s$h' },
        { ...b, id: randomUUID(), name: 'B2', passwordHash: 'pbkdf2_sha256$2$s$h' }
      ], isDjango)
      t.same(again, ['updated', 'updated'])
      const a2 = await store.users.byEmail('a@import.test')
      t.equal(a2?.id, stored?.id, 'same user, same id')
      t.equal(a2?.name, 'A2')
      t.equal(a2?.passwordHash, 'pbkdf2_sha256$2$s$h', 'still a Django hash: replaced')
      const b2 = await store.users.byEmail('b@import.test')
      t.equal(b2?.name, 'B2')
      t.equal(b2?.passwordHash, '$argon2id$own', 'logged in here: kept')
    })

    t.test('importMany never merges into, re-activates or verifies an account not linked to the Django id', async (t) => {
      const native = await store.users.create(newUser({ email: 'native@import.test', name: 'Native' }))
      await store.users.setActive(native.id, false)
      const before = await store.users.byId(native.id)
      const outcome = await store.users.importMany([imported({ email: 'native@import.test', isActive: true, emailVerified: true, isStaff: true, name: 'Django' })], isDjango)
      t.same(outcome, ['email_taken'])
      t.strictSame(await store.users.byId(native.id), before, 'the account is as it was: inactive, unverified, its own hash and name')
    })

    t.test('foreignHashSample: a Django hash of an imported user, until logins replaced them all', async (t) => {
      const only = imported({ email: 'sample@import.test', passwordHash: 'pbkdf2_sha256$260000$s$h' })
      const before = await store.users.foreignHashSample()
      t.same(await store.users.importMany([only], isDjango), ['created'])
      t.ok(before === undefined || before.startsWith('pbkdf2_'), 'earlier subtests\' imports are Django hashes too')
      t.match(await store.users.foreignHashSample(), /^pbkdf2_sha256\$/)
      // Every imported user logs in here: nothing foreign is left.
      for (const user of await store.users.list(1000)) {
        if (user.legacyId !== null) await store.users.recordLogin(user.id, new Date(), '$argon2id$v=19$m=19456,t=2,p=1$x$y')
      }
      t.equal(await store.users.foreignHashSample(), undefined)
    })

    t.test('importMany refuses a Django id already linked to another email', async (t) => {
      const a = imported({ email: 'first@legacy.test' })
      await store.users.importMany([a], isDjango)
      t.same(await store.users.importMany([imported({ email: 'second@legacy.test', legacyId: a.legacyId })], isDjango), ['legacy_id_taken'])
      t.equal(await store.users.byEmail('second@legacy.test'), undefined)
    })

    t.test('purge deletes expired rows, revoked or not, keeps revoked live ones, counts them', async (t) => {
      const user = await store.users.create(newUser())
      const expiredLive = token(user.id, { expiresAt: NOW - 10 })
      const expiredRevoked = token(user.id, { expiresAt: NOW - 10 })
      const revokedLive = token(user.id)
      const live = token(user.id)
      for (const tok of [expiredLive, expiredRevoked, revokedLive, live]) await storeToken(store, tok)
      await store.refreshTokens.revokeFamily(user.id, expiredRevoked.familyId, NOW - 20)
      await store.refreshTokens.revokeFamily(user.id, revokedLive.familyId, NOW - 20)
      await store.legacyTokens.exchange('old-jti', NOW - 10, token(user.id), NOW - 20)
      await store.legacyTokens.exchange('new-jti', NOW + 10, token(user.id), NOW - 20)
      const counts = await store.refreshTokens.purge(NOW)
      t.same(counts, { expired: 2, revoked: 1, legacyTokens: 1 })
      t.equal(await store.refreshTokens.byId(expiredLive.id), undefined)
      t.equal(await store.refreshTokens.byId(expiredRevoked.id), undefined)
      t.ok(await store.refreshTokens.byId(revokedLive.id), 'revoked but not expired: kept for reuse detection')
      t.ok(await store.refreshTokens.byId(live.id))
      t.equal(await store.legacyTokens.exchange('new-jti', NOW + 10, token(user.id), NOW), 'reused', 'a live used jti is still remembered')
    })

    t.test('legacyTokens.exchange: once; a second presentation stores nothing and revokes the first one\'s login', async (t) => {
      const user = await store.users.create(newUser())
      const first = token(user.id)
      const successor = token(user.id, { familyId: first.familyId })
      const unrelated = token(user.id)
      const second = token(user.id)
      t.equal(await store.legacyTokens.exchange('jti-once', NOW + 60, first, NOW), 'exchanged')
      await store.refreshTokens.rotate(first.id, successor, NOW + 1)
      await storeToken(store, unrelated)
      t.equal(await store.legacyTokens.exchange('jti-once', NOW + 60, second, NOW + 2), 'reused')
      t.equal(await store.refreshTokens.byId(second.id), undefined, 'no new login')
      t.equal((await store.refreshTokens.byId(successor.id))?.revokedAt, NOW + 2, 'the exchanged login is revoked')
      t.equal((await store.refreshTokens.byId(unrelated.id))?.revokedAt, null, 'other logins are not')
    })

    t.test('legacyTokens.retire: a retired token is never exchanged', async (t) => {
      const user = await store.users.create(newUser())
      await store.legacyTokens.retire('jti-retired', user.id, NOW + 60)
      await store.legacyTokens.retire('jti-retired', user.id, NOW + 60) // idempotent
      const next = token(user.id)
      t.equal(await store.legacyTokens.exchange('jti-retired', NOW + 60, next, NOW), 'reused')
      t.equal(await store.refreshTokens.byId(next.id), undefined)
    })

    t.test('legacyTokens.exchange: of concurrent exchanges of one jti exactly one succeeds', async (t) => {
      const user = await store.users.create(newUser())
      const results = await Promise.all(Array.from({ length: 10 }, async () => await store.legacyTokens.exchange('jti-race', NOW + 60, token(user.id), NOW)))
      t.equal(results.filter((r) => r === 'exchanged').length, 1)
    })
  })
}
