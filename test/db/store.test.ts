import { randomUUID } from 'node:crypto'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import t from 'tap'
import { EmailTakenError } from '../../src/errors.js'
import { openSqliteStore } from '../../src/db/sqlite/store.js'
import { migrationsDir } from '../../src/paths.js'
import { isPurgeable } from '../../src/tokens/rotation.js'
import type { NewAccountToken, NewRefreshToken, NewUser, Store } from '../../src/db/store.js'
import { migrationJournal, storeToken, tempDir } from '../helpers/app.js'
import { storeImplementations } from '../helpers/store.js'

/*
 * One contract, two implementations: every test below runs against a SQLite
 * file and against PostgreSQL (a database of its own for this file). Ids and
 * emails are fresh per test, so tests share a store without seeing each other.
 */

const NOW = Math.floor(Date.now() / 1000)

function newUser (over: Partial<NewUser> = {}): NewUser {
  const id = randomUUID()
  return {
    id,
    email: `u-${id}@example.com`,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g',
    name: 'Ana',
    gender: 'female',
    dateOfBirth: '1990-04-01',
    phoneNumber: '+82 10-1234-5678',
    dateJoined: new Date(Date.UTC(2026, 10, 22, 10, 0, 0, 123)),
    lastLogin: null,
    ...over
  }
}

function newToken (userId: string, familyId: string = randomUUID(), over: Partial<NewRefreshToken> = {}): NewRefreshToken {
  return { id: randomUUID(), userId, familyId, expiresAt: NOW + 86400, createdAt: NOW, ...over }
}

/** The columns of a live token that has never been rotated. */
const UNREVOKED = { revokedAt: null, revokeReason: null, successorId: null, successorSealed: null }

async function revokedAt (store: Store, id: string): Promise<number | null | undefined> {
  return (await store.refreshTokens.byId(id))?.revokedAt
}

for (const [kind, open] of storeImplementations) {
  t.test(kind, async (t) => {
    const store = await open(t)

    t.test('create returns the full row; byId and byEmail find the same object', async (t) => {
      const input = newUser()
      const created = await store.users.create(input)
      t.same(created, {
        id: input.id,
        email: input.email,
        passwordHash: input.passwordHash,
        name: 'Ana',
        gender: 'female',
        dateOfBirth: '1990-04-01',
        phoneNumber: '+82 10-1234-5678',
        isActive: true,
        isStaff: false,
        dateJoined: input.dateJoined,
        lastLogin: null,
        isSuperuser: false,
        emailVerified: false,
        legacyId: null,
        tokensValidAfter: 0
      })
      t.ok(created.dateJoined instanceof Date, 'date_joined is a Date')
      t.equal(created.dateJoined.getTime(), input.dateJoined.getTime(), 'millisecond precision kept')
      t.equal(typeof created.isActive, 'boolean')
      t.equal(typeof created.isStaff, 'boolean')
      t.strictSame(await store.users.byId(input.id), created)
      t.strictSame(await store.users.byEmail(input.email), created)
      t.equal(await store.users.byId(randomUUID()), undefined)
      t.equal(await store.users.byEmail('nobody@example.com'), undefined)
    })

    t.test('nullable fields stay null', async (t) => {
      const input = newUser({ gender: null, dateOfBirth: null, phoneNumber: null, name: '' })
      const created = await store.users.create(input)
      t.equal(created.gender, null)
      t.equal(created.dateOfBirth, null)
      t.equal(created.phoneNumber, null)
      t.equal(created.name, '')
    })

    t.test('an email already registered throws EmailTakenError, also under concurrency', async (t) => {
      const first = newUser()
      await store.users.create(first)
      await t.rejects(store.users.create(newUser({ email: first.email })), EmailTakenError)
      await t.rejects(store.users.create(newUser({ email: first.email })), { code: 'EMAIL_TAKEN', statusCode: 409 })

      const email = `race-${randomUUID()}@example.com`
      const results = await Promise.allSettled(Array.from({ length: 10 }, async () => await store.users.create(newUser({ email }))))
      const created = results.filter((r) => r.status === 'fulfilled')
      const taken = results.filter((r) => r.status === 'rejected' && r.reason instanceof EmailTakenError)
      t.equal(created.length, 1, 'exactly one create wins')
      t.equal(taken.length, 9, 'every other one gets EmailTakenError')
    })

    t.test('create with a first token stores both in one transaction, or neither', async (t) => {
      const u = newUser()
      const token = newToken(u.id)
      await store.users.create(u, token)
      t.equal((await store.refreshTokens.byId(token.id))?.userId, u.id, 'the token is stored with the user')
      // A first token that cannot be stored (its id is taken) takes the user down with it.
      const v = newUser()
      await t.rejects(store.users.create(v, newToken(v.id, randomUUID(), { id: token.id })))
      t.equal(await store.users.byId(v.id), undefined, 'no user without its token')
      t.equal(await store.users.byEmail(v.email), undefined)
      t.ok(await store.users.create(v), 'the email is still free')
    })

    t.test('recordLogin sets last_login, and replaces the hash only when rehashed', async (t) => {
      const u = await store.users.create(newUser())
      const at = new Date(Date.UTC(2026, 10, 22, 10, 5, 0, 456))
      await store.users.recordLogin(u.id, at)
      let row = await store.users.byId(u.id)
      t.ok(row?.lastLogin instanceof Date)
      t.equal(row?.lastLogin?.getTime(), at.getTime())
      t.equal(row?.passwordHash, u.passwordHash, 'hash unchanged without a rehash')

      const later = new Date(at.getTime() + 60_000)
      await store.users.recordLogin(u.id, later, '$argon2id$v=19$m=65536,t=3,p=1$bmV3c2FsdA$bmV3aGFzaA')
      row = await store.users.byId(u.id)
      t.equal(row?.lastLogin?.getTime(), later.getTime())
      t.equal(row?.passwordHash, '$argon2id$v=19$m=65536,t=3,p=1$bmV3c2FsdA$bmV3aGFzaA')
    })

    t.test('recordLogin with the login\'s token: both stored, or neither', async (t) => {
      const u = await store.users.create(newUser())
      const at = new Date(Date.UTC(2026, 10, 22, 11, 0, 0, 789))
      const token = newToken(u.id)
      await store.users.recordLogin(u.id, at, undefined, token)
      t.equal((await store.users.byId(u.id))?.lastLogin?.getTime(), at.getTime(), 'last_login set')
      t.equal((await store.refreshTokens.byId(token.id))?.userId, u.id, 'the token is stored')
      // A token that cannot be stored (its id is taken): last_login and the
      // re-hashed password stay as they were.
      const later = new Date(at.getTime() + 60_000)
      await t.rejects(store.users.recordLogin(u.id, later, '$argon2id$v=19$m=65536,t=3,p=1$bmV3c2FsdA$bmV3aGFzaA', newToken(u.id, randomUUID(), { id: token.id })))
      const row = await store.users.byId(u.id)
      t.equal(row?.lastLogin?.getTime(), at.getTime(), 'last_login unchanged by the failed login')
      t.equal(row?.passwordHash, u.passwordHash, 'hash unchanged by the failed login')
    })

    t.test('tokensValidAfter: set in milliseconds by a password change, logout everywhere and a deactivation', async (t) => {
      const u = await store.users.create(newUser())
      t.equal(u.tokensValidAfter, 0, 'none at first')
      const live = newToken(u.id)
      await storeToken(store, live)
      await store.users.setPassword(u.id, u.passwordHash, NOW + 1, newToken(u.id), (NOW + 1) * 1000 + 417)
      t.equal((await store.users.byId(u.id))?.tokensValidAfter, (NOW + 1) * 1000 + 417, 'a password change: the instant given, to the millisecond')
      await store.users.setPassword(u.id, u.passwordHash, NOW + 2)
      t.equal((await store.users.byId(u.id))?.tokensValidAfter, (NOW + 2) * 1000, 'by default the start of the second')
      const other = newToken(u.id)
      await storeToken(store, other)
      t.equal(await store.refreshTokens.revokeUser(u.id, NOW + 3, 'logout_all', (NOW + 3) * 1000 + 5), 1, 'the live token is revoked')
      t.equal((await store.users.byId(u.id))?.tokensValidAfter, (NOW + 3) * 1000 + 5, 'and the instant recorded on the user (a cached row is not served)')
      await store.refreshTokens.revokeUser(u.id, NOW + 4)
      t.equal((await store.users.byId(u.id))?.tokensValidAfter, (NOW + 3) * 1000 + 5, 'revoking without an instant leaves it')
      await store.users.setActive(u.id, false, (NOW + 5) * 1000 + 9)
      t.match(await store.users.byId(u.id), { isActive: false, tokensValidAfter: (NOW + 5) * 1000 + 9 })
      await store.users.setActive(u.id, true)
      t.match(await store.users.byId(u.id), { isActive: true, tokensValidAfter: (NOW + 5) * 1000 + 9 }, 'a reactivation keeps it')
    })

    t.test('setActive and remove; removing a user removes its tokens', async (t) => {
      const u = await store.users.create(newUser())
      await store.users.setActive(u.id, false)
      t.equal((await store.users.byId(u.id))?.isActive, false)
      await store.users.setActive(u.id, true)
      t.equal((await store.users.byId(u.id))?.isActive, true)
      const token = newToken(u.id)
      await storeToken(store, token)
      await store.users.remove(u.id)
      t.equal(await store.users.byId(u.id), undefined)
      t.equal(await store.refreshTokens.byId(token.id), undefined, 'cascade')
    })

    t.test('a login\'s token and byId round-trip', async (t) => {
      const u = await store.users.create(newUser())
      const token = newToken(u.id)
      await storeToken(store, token)
      t.strictSame(await store.refreshTokens.byId(token.id), { ...token, ...UNREVOKED })
      t.equal(await store.refreshTokens.byId(randomUUID()), undefined)
    })

    t.test('rotate: rotated, then reused (family revoked), unknown', async (t) => {
      const u = await store.users.create(newUser())
      const family = randomUUID()
      const a = newToken(u.id, family)
      const other = newToken(u.id) // another login of the same user
      await storeToken(store, a)
      await storeToken(store, other)

      const b = newToken(u.id, family, { createdAt: NOW + 1 })
      t.same(await store.refreshTokens.rotate(a.id, b, NOW + 1), { kind: 'rotated' })
      t.equal(await revokedAt(store, a.id), NOW + 1, 'the presented token is revoked')
      t.match(await store.refreshTokens.byId(a.id), { revokeReason: 'rotated', successorId: b.id, successorSealed: null }, 'as rotated, into b; nothing sealed without grace')
      t.strictSame(await store.refreshTokens.byId(b.id), { ...b, ...UNREVOKED }, 'the successor is stored, live')

      const c = newToken(u.id, family)
      t.same(await store.refreshTokens.rotate(a.id, c, NOW + 2), { kind: 'reused' })
      t.equal(await store.refreshTokens.byId(c.id), undefined, 'no successor for a reused token')
      t.equal(await revokedAt(store, b.id), NOW + 2, 'the whole family is revoked')
      t.equal((await store.refreshTokens.byId(b.id))?.revokeReason, 'reuse', 'as theft')
      t.equal((await store.refreshTokens.byId(a.id))?.revokeReason, 'rotated', 'the rotated one keeps its reason')
      t.equal(await revokedAt(store, a.id), NOW + 1, 'an earlier revocation time is kept')
      t.equal(await revokedAt(store, other.id), null, 'other logins are untouched')
      t.same(await store.refreshTokens.rotate(b.id, newToken(u.id, family), NOW + 3), { kind: 'reused' }, 'a revoked successor is reuse too')

      const d = newToken(u.id)
      t.same(await store.refreshTokens.rotate(randomUUID(), d, NOW), { kind: 'unknown' })
      t.equal(await store.refreshTokens.byId(d.id), undefined, 'nothing stored for an unknown token')
    })

    t.test('50 concurrent rotations of one token: exactly one rotated, the rest are reuse', async (t) => {
      const u = await store.users.create(newUser())
      const family = randomUUID()
      const a = newToken(u.id, family)
      await storeToken(store, a)
      const nexts = Array.from({ length: 50 }, () => newToken(u.id, family))
      const outcomes = await Promise.all(nexts.map(async (next) => await store.refreshTokens.rotate(a.id, next, NOW + 5)))
      t.equal(outcomes.filter((o) => o.kind === 'rotated').length, 1, 'at most (and here exactly) one rotation')
      t.equal(outcomes.filter((o) => o.kind === 'reused').length, 49)
      const stored = (await Promise.all(nexts.map(async (n) => await store.refreshTokens.byId(n.id)))).filter((r) => r !== undefined)
      t.equal(stored.length, 1, 'only the winner stored a successor')
      t.equal(stored[0]?.id, nexts[outcomes.findIndex((o) => o.kind === 'rotated')]?.id)
      t.not(stored[0]?.revokedAt, null, 'the reuse that followed revoked it')
    })

    t.test('rotate with grace: a replay inside the interval gets the stored successor, writing nothing', async (t) => {
      const u = await store.users.create(newUser())
      const family = randomUUID()
      const a = newToken(u.id, family)
      await storeToken(store, a)
      const b = newToken(u.id, family)
      const grace = { interval: 10, sealed: 'sealed-b' }
      t.same(await store.refreshTokens.rotate(a.id, b, NOW + 1, grace), { kind: 'rotated' })
      t.match(await store.refreshTokens.byId(a.id), { revokedAt: NOW + 1, revokeReason: 'rotated', successorId: b.id, successorSealed: 'sealed-b' })
      const c = newToken(u.id, family)
      t.same(await store.refreshTokens.rotate(a.id, c, NOW + 10, { interval: 10, sealed: 'sealed-c' }), { kind: 'replayed', successorId: b.id, sealed: 'sealed-b' }, '9 s later: inside')
      t.equal(await store.refreshTokens.byId(c.id), undefined, 'no second successor')
      t.equal(await revokedAt(store, b.id), null, 'the successor stays live')
      t.same(await store.refreshTokens.rotate(a.id, c, NOW + 11, grace), { kind: 'reused' }, '10 s later: outside, theft')
      t.match(await store.refreshTokens.byId(b.id), { revokedAt: NOW + 11, revokeReason: 'reuse' }, 'the family is revoked')
    })

    t.test('rotate with grace: no replay once the successor has moved on or was revoked', async (t) => {
      const u = await store.users.create(newUser())
      const grace = { interval: 60, sealed: 's' }
      // The successor itself rotated: the chain moved on, a replay of the first is theft.
      const f1 = randomUUID()
      const a = newToken(u.id, f1)
      await storeToken(store, a)
      const b = newToken(u.id, f1)
      const c = newToken(u.id, f1)
      await store.refreshTokens.rotate(a.id, b, NOW + 1, grace)
      await store.refreshTokens.rotate(b.id, c, NOW + 2, grace)
      t.same(await store.refreshTokens.rotate(b.id, newToken(u.id, f1), NOW + 3, grace), { kind: 'replayed', successorId: c.id, sealed: 's' }, 'the newest rotated token still replays')
      t.same(await store.refreshTokens.rotate(a.id, newToken(u.id, f1), NOW + 3, grace), { kind: 'reused' }, 'an older one of the chain is theft')
      t.equal(await revokedAt(store, c.id), NOW + 3, 'the live token is revoked with its family')
      // Each way the user ends a login: the rotated token's successor is revoked, so no grace.
      const ends: Array<[string, (family: string) => Promise<unknown>]> = [
        ['logout', async (family) => await store.refreshTokens.revokeFamily(u.id, family, NOW + 2, 'logout')],
        ['logout everywhere', async () => await store.refreshTokens.revokeUser(u.id, NOW + 2, 'logout_all')],
        ['password change', async () => await store.users.setPassword(u.id, u.passwordHash, NOW + 2, newToken(u.id))],
        ['password set by an operator', async () => await store.users.setPassword(u.id, u.passwordHash, NOW + 2)]
      ]
      for (const [why, end] of ends) {
        const family = randomUUID()
        const first = newToken(u.id, family)
        await storeToken(store, first)
        const second = newToken(u.id, family)
        await store.refreshTokens.rotate(first.id, second, NOW + 1, grace)
        await end(family)
        t.equal((await store.refreshTokens.byId(second.id))?.revokeReason, why === 'logout' ? 'logout' : why === 'logout everywhere' ? 'logout_all' : 'password_change', `${why}: the reason is kept`)
        t.same(await store.refreshTokens.rotate(second.id, newToken(u.id, family), NOW + 3, grace), { kind: 'reused' }, `${why}: the revoked token gets no grace`)
        t.same(await store.refreshTokens.rotate(first.id, newToken(u.id, family), NOW + 3, grace), { kind: 'reused' }, `${why}: nor its rotated predecessor`)
      }
    })

    t.test('rotate without grace (interval 0): a replay at once is theft, as in v1', async (t) => {
      const u = await store.users.create(newUser())
      const family = randomUUID()
      const a = newToken(u.id, family)
      await storeToken(store, a)
      await store.refreshTokens.rotate(a.id, newToken(u.id, family), NOW + 1, { interval: 10, sealed: 's' })
      t.same(await store.refreshTokens.rotate(a.id, newToken(u.id, family), NOW + 1), { kind: 'reused' }, 'no grace asked: theft')
    })

    t.test('20 concurrent rotations of one token with grace: one rotated, 19 replayed, one live token in the family', async (t) => {
      const u = await store.users.create(newUser())
      const family = randomUUID()
      const a = newToken(u.id, family)
      await storeToken(store, a)
      const nexts = Array.from({ length: 20 }, () => newToken(u.id, family))
      const outcomes = await Promise.all(nexts.map(async (next, i) => await store.refreshTokens.rotate(a.id, next, NOW + 5, { interval: 10, sealed: `sealed-${i}` })))
      const winner = outcomes.findIndex((o) => o.kind === 'rotated')
      t.ok(winner >= 0, 'one rotation')
      t.equal(outcomes.filter((o) => o.kind === 'rotated').length, 1, 'exactly one')
      t.same(outcomes.filter((o) => o.kind !== 'rotated'), Array.from({ length: 19 }, () => ({ kind: 'replayed', successorId: nexts[winner]?.id, sealed: `sealed-${winner}` })), 'the others replay the winner\'s successor')
      const stored = (await Promise.all(nexts.map(async (n) => await store.refreshTokens.byId(n.id)))).filter((r) => r !== undefined)
      t.equal(stored.length, 1, 'only the winner stored a successor')
      t.equal(stored[0]?.revokedAt, null, 'and it is live')
    })

    // A rotation commits "old revoked + successor stored" at once; a logout or
    // password change racing with it must not leave that successor live.
    t.test('no live token survives a logout or password change racing a rotation', async (t) => {
      const u = await store.users.create(newUser())
      let survivors = 0
      for (let round = 0; round < 40; round++) {
        const family = randomUUID()
        const a = newToken(u.id, family)
        await storeToken(store, a)
        const b = newToken(u.id, family)
        const fresh = newToken(u.id)
        const [outcome] = await Promise.all([
          store.refreshTokens.rotate(a.id, b, NOW + 20),
          round % 2 === 0
            ? store.refreshTokens.revokeFamily(u.id, family, NOW + 20)
            : store.users.setPassword(u.id, u.passwordHash, NOW + 20, fresh)
        ])
        t.ok(outcome.kind === 'rotated' || outcome.kind === 'reused', 'the token was known')
        const successor = await store.refreshTokens.byId(b.id)
        if (outcome.kind === 'rotated') t.ok(successor, 'a rotation stored its successor')
        if (successor !== undefined && successor.revokedAt === null) survivors++
        if (round % 2 === 1) await store.refreshTokens.revokeUser(u.id, NOW + 20) // keep only the next round's tokens live
      }
      t.equal(survivors, 0, 'every successor was revoked by the concurrent logout or password change')
    })

    t.test('revokeFamily and revokeUser revoke live tokens and count them', async (t) => {
      const u = await store.users.create(newUser())
      const v = await store.users.create(newUser())
      const f1 = randomUUID()
      const tokens = [newToken(u.id, f1), newToken(u.id, f1), newToken(u.id), newToken(v.id)]
      for (const tok of tokens) await storeToken(store, tok)

      t.equal(await store.refreshTokens.revokeFamily(v.id, f1, NOW + 6), 0, 'a family is asked for with its user')
      t.equal(await store.refreshTokens.revokeFamily(u.id, f1, NOW + 7), 2)
      t.equal(await store.refreshTokens.revokeFamily(u.id, f1, NOW + 8), 0, 'idempotent')
      t.equal(await revokedAt(store, tokens[0]!.id), NOW + 7)
      t.equal(await revokedAt(store, tokens[2]!.id), null)

      t.equal(await store.refreshTokens.revokeUser(u.id, NOW + 9), 1, 'only the still-live one')
      t.equal(await revokedAt(store, tokens[2]!.id), NOW + 9)
      t.equal(await revokedAt(store, tokens[1]!.id), NOW + 7, 'earlier revocations kept')
      t.equal(await revokedAt(store, tokens[3]!.id), null, 'other users untouched')
      t.equal(await store.refreshTokens.revokeUser(u.id, NOW + 10), 0)
      t.equal(await store.refreshTokens.revokeFamily(u.id, randomUUID(), NOW), 0)
    })

    t.test('setPassword with a new login: new hash, every token revoked, the new login stored', async (t) => {
      const u = await store.users.create(newUser())
      const v = await store.users.create(newUser())
      const old = [newToken(u.id), newToken(u.id)]
      const others = newToken(v.id)
      for (const tok of [...old, others]) await storeToken(store, tok)
      const next = newToken(u.id)
      await store.users.setPassword(u.id, '$argon2id$v=19$m=19456,t=2,p=1$bmV3$Y2hhbmdlZA', NOW + 11, next)
      t.equal((await store.users.byId(u.id))?.passwordHash, '$argon2id$v=19$m=19456,t=2,p=1$bmV3$Y2hhbmdlZA')
      for (const tok of old) t.equal(await revokedAt(store, tok.id), NOW + 11)
      t.strictSame(await store.refreshTokens.byId(next.id), { ...next, ...UNREVOKED })
      t.equal(await revokedAt(store, others.id), null)
      t.equal((await store.users.byId(v.id))?.passwordHash, v.passwordHash)
    })

    t.test('setPassword is one transaction: a failing step changes nothing', async (t) => {
      const u = await store.users.create(newUser())
      const live = newToken(u.id)
      await storeToken(store, live)
      // The new token reuses an existing id: the insert (last step) fails.
      await t.rejects(store.users.setPassword(u.id, 'changed', NOW + 12, { ...newToken(u.id), id: live.id }))
      t.equal((await store.users.byId(u.id))?.passwordHash, u.passwordHash, 'hash rolled back')
      t.equal(await revokedAt(store, live.id), null, 'revocation rolled back')
    })

    t.test('purge deletes only expired tokens and counts them', async (t) => {
      const u = await store.users.create(newUser())
      // Times far in the past, below every other test's tokens.
      const expired = [newToken(u.id, undefined, { expiresAt: 500 }), newToken(u.id, undefined, { expiresAt: 999 })]
      const live = newToken(u.id, undefined, { expiresAt: 1000 })
      for (const tok of [...expired, live]) await storeToken(store, tok)
      t.equal((await store.refreshTokens.purge(1000)).expired, 2)
      for (const tok of expired) t.equal(await store.refreshTokens.byId(tok.id), undefined)
      t.ok(await store.refreshTokens.byId(live.id), 'a token expiring exactly now is kept')
      t.equal((await store.refreshTokens.purge(1000)).expired, 0)
    })

    t.test('purge deletes the rows isPurgeable names (src/tokens/rotation.ts), revoked or not, and keeps the others', async (t) => {
      const u = await store.users.create(newUser())
      // Times far in the past, below every other test's tokens but the purge test's above.
      const at = 2000
      const rows = [at - 1, at, at + 1].flatMap((expiresAt) => [false, true].map((revoked) => ({ token: newToken(u.id, undefined, { expiresAt }), revoked })))
      for (const { token, revoked } of rows) {
        await storeToken(store, token)
        if (revoked) await store.refreshTokens.revokeFamily(u.id, token.familyId, at - 10)
      }
      const counts = await store.refreshTokens.purge(at)
      t.ok(counts.expired >= 2 && counts.revoked >= 1, `counted: ${JSON.stringify(counts)}`)
      for (const { token, revoked } of rows) {
        const kept = await store.refreshTokens.byId(token.id) !== undefined
        t.equal(kept, !isPurgeable(token, at), `expires ${token.expiresAt - at} s from the purge, ${revoked ? 'revoked' : 'live'}: ${kept ? 'kept' : 'deleted'}`)
      }
    })

    t.test('updateProfile changes the given fields only and returns the row', async (t) => {
      const u = await store.users.create(newUser())
      const updated = await store.users.updateProfile(u.id, { name: 'Bo', phoneNumber: null })
      t.strictSame(updated, { ...u, name: 'Bo', phoneNumber: null })
      t.strictSame(await store.users.byId(u.id), updated, 'byId sees the change at once')
      t.strictSame(await store.users.updateProfile(u.id, {}), updated, 'an empty change returns the user')
      t.equal(await store.users.updateProfile(randomUUID(), { name: 'x' }), undefined, 'no such user')
    })

    t.test('setEmail: new address and flag; an address in use is EmailTakenError', async (t) => {
      const u = await store.users.create(newUser())
      const other = await store.users.create(newUser())
      await store.users.setEmail(u.id, `new-${u.id}@example.com`, true)
      t.match(await store.users.byId(u.id), { email: `new-${u.id}@example.com`, emailVerified: true })
      t.equal((await store.users.byEmail(`new-${u.id}@example.com`))?.id, u.id)
      await t.rejects(store.users.setEmail(u.id, other.email, false), EmailTakenError)
      t.match(await store.users.byId(u.id), { email: `new-${u.id}@example.com`, emailVerified: true }, 'unchanged by the refused change')
    })

    const accountToken = (userId: string, over: Partial<NewAccountToken> = {}): NewAccountToken => ({
      id: randomUUID(), userId, purpose: 'password_reset', email: 'a@example.com', passwordFingerprint: 'fp', expiresAt: NOW + 3600, createdAt: NOW, ...over
    })

    // Redeeming mailed tokens (resetPassword, verifyEmail): test/store-account-tokens.test.ts.

    t.test('account tokens go with their user, and expired ones are purged', async (t) => {
      const u = await store.users.create(newUser())
      const live = accountToken(u.id)
      const old = accountToken(u.id, { expiresAt: NOW - 10 })
      await store.accountTokens.create(live)
      await store.accountTokens.create(old)
      t.ok(await store.accountTokens.purgeExpired(NOW) >= 1)
      t.equal(await store.accountTokens.byId(old.id), undefined, 'expired: purged')
      t.ok(await store.accountTokens.byId(live.id), 'live: kept')
      await store.users.remove(u.id)
      t.equal(await store.accountTokens.byId(live.id), undefined, 'removed with the user')
    })

    t.test('ping answers', async (t) => {
      await t.resolves(store.ping())
    })
  })
}

t.test('both implementations return identical objects for the same rows', async (t) => {
  const [sqlite, postgres] = await Promise.all(storeImplementations.map(async ([, open]) => await open(t)))
  const input = newUser({ gender: 'male', phoneNumber: null, dateJoined: new Date(Date.UTC(2027, 0, 2, 3, 4, 5, 678)) })
  const rows = await Promise.all([sqlite!, postgres!].map(async (s) => await s.users.create(input)))
  t.strictSame(rows[1], rows[0], 'create')
  const at = new Date(Date.UTC(2027, 0, 3, 0, 0, 0, 1))
  for (const s of [sqlite!, postgres!]) {
    await s.users.recordLogin(input.id, at)
    await s.users.setActive(input.id, false)
  }
  const [a, b] = await Promise.all([sqlite!, postgres!].map(async (s) => await s.users.byEmail(input.email)))
  t.strictSame(b, a, 'after login and deactivation')
  t.equal(b?.lastLogin?.toISOString(), '2027-01-03T00:00:00.001Z')
  const token = newToken(input.id, undefined, { expiresAt: 4_102_444_800 }) // 2100: past 2038
  for (const s of [sqlite!, postgres!]) await storeToken(s, token)
  const [ta, tb] = await Promise.all([sqlite!, postgres!].map(async (s) => await s.refreshTokens.byId(token.id)))
  t.strictSame(tb, ta, 'token rows')
  t.equal(typeof tb?.expiresAt, 'number')
})

/** The indexes SQLite keeps on refresh_tokens, by name. */
function tokenIndexes (db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'refresh_tokens' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name)
}

t.test('sqlite: every refresh_tokens lookup the store makes is an index search, never a table scan', async (t) => {
  const path = join(tempDir(t), 'plan.db')
  await openSqliteStore({ path, synchronous: 'full' }).close() // created and migrated
  const db = new Database(path, { readonly: true })
  t.teardown(() => db.close())
  const plan = (query: string): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${query}`).all(...(query.match(/\?/g) ?? []).map(() => null)) as Array<{ detail: string }>).map((r) => r.detail).join('; ')
  const cases: Array<[string, string, RegExp]> = [
    ['a token by id', 'SELECT * FROM refresh_tokens WHERE id = ?', /USING INDEX sqlite_autoindex_refresh_tokens_1/],
    ['rotation', 'UPDATE refresh_tokens SET revoked_at = 1 WHERE id = ? AND revoked_at IS NULL', /USING INDEX sqlite_autoindex_refresh_tokens_1/],
    ['a rotated token and its successor (the rotation writer, src/db/sqlite/rotation-worker.ts)',
      'SELECT t.*, s.family_id, s.revoked_at FROM refresh_tokens t LEFT JOIN refresh_tokens s ON s.id = t.successor_id WHERE t.id = ?',
      /SEARCH t USING INDEX sqlite_autoindex_refresh_tokens_1 \(id=\?\); SEARCH s USING INDEX sqlite_autoindex_refresh_tokens_1 \(id=\?\)/],
    ['a family (logout, reuse)', 'UPDATE refresh_tokens SET revoked_at = 1 WHERE user_id = ? AND family_id = ? AND revoked_at IS NULL', /USING INDEX refresh_tokens_user_family_idx \(user_id=\? AND family_id=\?\)/],
    ['a user (logout everywhere, password change)', 'UPDATE refresh_tokens SET revoked_at = 1 WHERE user_id = ? AND revoked_at IS NULL', /USING (COVERING )?INDEX refresh_tokens_user_family_idx \(user_id=\?\)/],
    ['the cascade from users', 'DELETE FROM refresh_tokens WHERE user_id = ?', /USING (COVERING )?INDEX refresh_tokens_user_family_idx \(user_id=\?\)/],
    ['the purge', 'DELETE FROM refresh_tokens WHERE expires_at < ?', /USING (COVERING )?INDEX refresh_tokens_expires_idx/]
  ]
  for (const [what, query, expected] of cases) {
    const detail = plan(query)
    t.match(detail, expected, `${what}: ${detail}`)
    t.notMatch(detail, /SCAN refresh_tokens/, `${what}: no table scan`)
  }
  const indexes = tokenIndexes(db)
  t.same(indexes, ['refresh_tokens_expires_idx', 'refresh_tokens_user_family_idx', 'sqlite_autoindex_refresh_tokens_1'], 'no other index to keep up to date on each rotation')
})

t.test('sqlite: a database made by the first release is migrated at start, its data kept', async (t) => {
  // The first release's migrations only (0000), applied as that release did.
  const dir = tempDir(t)
  const firstRelease = join(dir, 'migrations')
  mkdirSync(join(firstRelease, 'meta'), { recursive: true })
  copyFileSync(join(migrationsDir.sqlite, '0000_init.sql'), join(firstRelease, '0000_init.sql'))
  const journal = migrationJournal('sqlite')
  journal.entries = journal.entries.filter((e) => e.tag === '0000_init')
  writeFileSync(join(firstRelease, 'meta', '_journal.json'), JSON.stringify(journal))
  const path = join(dir, 'auth.db')
  const old = new Database(path)
  migrate(drizzle({ client: old }), { migrationsFolder: firstRelease })
  old.prepare("INSERT INTO users (id, email, password_hash) VALUES ('u1', 'old@example.com', 'h')").run()
  old.prepare("INSERT INTO refresh_tokens (id, user_id, family_id, expires_at, created_at) VALUES ('t1', 'u1', 'f1', ?, ?)").run(NOW + 100, NOW)
  t.ok(old.prepare("SELECT 1 FROM sqlite_master WHERE name = 'refresh_tokens_family_idx'").get(), 'the old index is there')
  old.close()

  const store = openSqliteStore({ path, synchronous: 'full' })
  t.teardown(() => store.close())
  t.equal((await store.users.byEmail('old@example.com'))?.id, 'u1', 'the user is kept')
  t.equal(await store.refreshTokens.revokeFamily('u1', 'f1', NOW + 1), 1, 'its token is kept, and found through the new index')
  const check = new Database(path, { readonly: true })
  t.teardown(() => check.close())
  const indexes = tokenIndexes(check)
  t.same(indexes, ['refresh_tokens_expires_idx', 'refresh_tokens_user_family_idx', 'sqlite_autoindex_refresh_tokens_1'])
})
