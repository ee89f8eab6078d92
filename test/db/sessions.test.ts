import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { openPostgresStore } from '../../src/db/postgres/store.js'
import type { NewRefreshToken, NewUser, Store } from '../../src/db/store.js'
import { nextTurn, waitFor } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'
import { storeDatabases } from '../helpers/store.js'

/*
 * Sessions in both stores (Store.sessions, src/db/store.ts): the row written
 * with a family's first token, moved by its rotations, ended by whatever
 * revokes the family, and the denylist (`endedNow`) of every store sharing
 * the database — another instance's ending included.
 */

const NOW = Math.floor(Date.now() / 1000)

function newUser (): NewUser {
  const id = randomUUID()
  return { id, email: `s-${id}@example.com`, passwordHash: 'x', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null }
}

function firstToken (userId: string, over: Partial<NewRefreshToken> = {}): NewRefreshToken {
  return {
    id: randomUUID(),
    userId,
    familyId: randomUUID(),
    expiresAt: NOW + 86400,
    createdAt: NOW,
    session: { method: 'password', userAgent: 'Agent/1', ip: '192.0.2.1', accessExpiresAt: NOW + 300 },
    ...over
  }
}

/** The store's answer, awaited if it is a promise. */
const ended = async (store: Store, id: string): Promise<boolean> => await store.sessions.endedNow(id)

for (const [kind, database] of storeDatabases) {
  t.test(kind, async (t) => {
    const db = await database(t)
    const store = await db.open()

    t.test('a first token stores its session; byUser lists the live ones, newest first', async (t) => {
      const user = newUser()
      const first = firstToken(user.id)
      await store.users.create(user, first)
      const later = firstToken(user.id, { createdAt: NOW + 5, session: { method: 'passkey', userAgent: null, ip: null, accessExpiresAt: NOW + 305 } })
      await store.users.recordLogin(user.id, new Date(), undefined, later)
      const noSession = firstToken(user.id, { createdAt: NOW + 9 })
      delete noSession.session
      await store.users.recordLogin(user.id, new Date(), undefined, noSession)
      const expired = firstToken(user.id, { expiresAt: NOW - 1, createdAt: NOW - 100 })
      await store.refreshTokens.insertMany([expired])
      const sessions = await store.sessions.byUser(user.id, NOW)
      t.same(sessions, [
        { id: later.familyId, userId: user.id, method: 'passkey', userAgent: null, ip: null, createdAt: NOW + 5, lastUsedAt: NOW + 5, expiresAt: NOW + 86400, accessExpiresAt: NOW + 305, endedAt: null },
        { id: first.familyId, userId: user.id, method: 'password', userAgent: 'Agent/1', ip: '192.0.2.1', createdAt: NOW, lastUsedAt: NOW, expiresAt: NOW + 86400, accessExpiresAt: NOW + 300, endedAt: null }
      ], 'a family without a session row, and an expired session, are not listed')
      t.equal(await ended(store, first.familyId), false)
    })

    t.test('a rotation moves last_used_at, expires_at and access_expires_at', async (t) => {
      const user = newUser()
      const first = firstToken(user.id)
      await store.users.create(user, first)
      const outcome = await store.refreshTokens.rotate(first.id, { id: randomUUID(), userId: user.id, expiresAt: NOW + 90000, createdAt: NOW + 60, accessExpiresAt: NOW + 960 }, NOW + 60)
      t.equal(outcome.kind, 'rotated')
      t.match((await store.sessions.byUser(user.id, NOW))[0], { id: first.familyId, createdAt: NOW, lastUsedAt: NOW + 60, expiresAt: NOW + 90000, accessExpiresAt: NOW + 960 })
    })

    t.test('end: the family revoked and the session refused at once; another user\'s or an unknown id changes nothing', async (t) => {
      const user = newUser()
      const first = firstToken(user.id)
      await store.users.create(user, first)
      const other = newUser()
      await store.users.create(other)
      t.equal(await store.sessions.end(other.id, first.familyId, NOW), false, 'another user\'s')
      t.equal(await store.sessions.end(user.id, randomUUID(), NOW), false, 'unknown')
      t.equal((await store.refreshTokens.byId(first.id))?.revokedAt, null)
      t.equal(await store.sessions.end(user.id, first.familyId, NOW), true)
      t.equal(await ended(store, first.familyId), true, 'refused at once')
      t.match(await store.refreshTokens.byId(first.id), { revokedAt: NOW, revokeReason: 'logout' })
      t.same(await store.sessions.byUser(user.id, NOW), [])
      t.equal(await store.sessions.end(user.id, first.familyId, NOW), false, 'ended already')
    })

    t.test('revokeFamily (logout), reuse, revokeUser and a password change end sessions', async (t) => {
      const user = newUser()
      const a = firstToken(user.id)
      const b = firstToken(user.id)
      const c = firstToken(user.id)
      await store.users.create(user, a)
      await store.users.recordLogin(user.id, new Date(), undefined, b)
      await store.users.recordLogin(user.id, new Date(), undefined, c)
      await store.refreshTokens.revokeFamily(user.id, a.familyId, NOW)
      t.equal(await ended(store, a.familyId), true, 'logout')
      // Reuse: the rotated token presented again ends its family's session.
      await store.refreshTokens.rotate(b.id, { id: randomUUID(), userId: user.id, expiresAt: NOW + 86400, createdAt: NOW, accessExpiresAt: NOW + 300 }, NOW)
      t.equal((await store.refreshTokens.rotate(b.id, { id: randomUUID(), userId: user.id, expiresAt: NOW + 86400, createdAt: NOW, accessExpiresAt: NOW + 300 }, NOW)).kind, 'reused')
      await waitFor(async () => await ended(store, b.familyId), 'reuse ends the session')
      t.equal(await ended(store, c.familyId), false)
      const d = firstToken(user.id)
      await store.users.setPassword(user.id, 'new-hash', NOW, d)
      t.equal(await ended(store, c.familyId), true, 'a password change ends the others')
      t.equal(await ended(store, d.familyId), false, 'and starts its own')
      await store.refreshTokens.revokeUser(user.id, NOW, 'logout_all', Date.now())
      t.equal(await ended(store, d.familyId), true, 'log out everywhere')
      t.same(await store.sessions.byUser(user.id, NOW), [])
    })

    t.test('a session whose access tokens have all expired is not kept in the denylist', async (t) => {
      const user = newUser()
      const first = firstToken(user.id, { session: { method: 'cli', userAgent: null, ip: null, accessExpiresAt: NOW - 1 } })
      await store.users.create(user, first)
      t.equal(await store.sessions.end(user.id, first.familyId, NOW), true)
      // Another store reads the set afresh: nothing of it to refuse.
      const fresh = await db.open()
      t.equal(await ended(fresh, first.familyId), false)
    })

    t.test('an ending on another store (another instance) is refused here without delay', async (t) => {
      const other = await db.open()
      const user = newUser()
      const first = firstToken(user.id)
      await store.users.create(user, first)
      t.equal(await ended(store, first.familyId), false)
      await nextTurn()
      await waitFor(async () => !(store.sessions.endedNow(first.familyId) instanceof Promise), 'the listener is up', 5000)
      t.equal(await other.sessions.end(user.id, first.familyId, NOW), true)
      if (kind === 'sqlite') {
        await nextTurn()
        t.equal(store.sessions.endedNow(first.familyId), true, 'the next turn of the event loop sees it')
      } else {
        await waitFor(async () => await ended(store, first.familyId), 'the notification', 2000)
        t.pass('notified')
      }
    })

    t.test('an ending written beside the stores (plain SQL) reaches the denylist too', async (t) => {
      const user = newUser()
      const first = firstToken(user.id)
      await store.users.create(user, first)
      t.equal(await ended(store, first.familyId), false)
      await db.sql(`UPDATE sessions SET ended_at = ${NOW} WHERE id = '${first.familyId}'`)
      if (kind === 'sqlite') {
        await nextTurn()
        t.equal(store.sessions.endedNow(first.familyId), true, 'the trigger moved the version')
      } else {
        // No NOTIFY from plain SQL: a fresh store (as after a reconnect) reads it.
        t.equal(await ended(await db.open(), first.familyId), true)
      }
    })

    t.test('deleting the user deletes its sessions', async (t) => {
      const user = newUser()
      await store.users.create(user, firstToken(user.id))
      await store.users.remove(user.id)
      t.same(await store.sessions.byUser(user.id, NOW), [])
    })
  })
}

for (const [kind, database] of storeDatabases) {
  t.test(`${kind}: purge deletes the sessions that are over once their access tokens have expired`, async (t) => {
    const store = await (await database(t)).open()
    const user = newUser()
    const live = firstToken(user.id)
    const endedLongAgo = firstToken(user.id, { session: { method: 'password', userAgent: null, ip: null, accessExpiresAt: NOW - 10 } })
    const endedRecently = firstToken(user.id)
    const expired = firstToken(user.id, { expiresAt: NOW - 5, session: { method: 'password', userAgent: null, ip: null, accessExpiresAt: NOW - 10 } })
    await store.users.create(user)
    await store.refreshTokens.insertMany([live, endedLongAgo, endedRecently, expired])
    await store.sessions.end(user.id, endedLongAgo.familyId, NOW - 20)
    await store.sessions.end(user.id, endedRecently.familyId, NOW)
    await store.refreshTokens.purge(NOW)
    t.same((await store.sessions.byUser(user.id, NOW)).map((s) => s.id), [live.familyId])
    t.equal(await ended(store, endedRecently.familyId), true, 'still refused: its access token may be alive')
    t.equal(await ended(store, endedLongAgo.familyId), false)
    t.equal(await store.sessions.end(user.id, expired.familyId, NOW), false, 'the expired session\'s row is gone')
    t.equal(await store.sessions.end(user.id, live.familyId, NOW), true, 'the live one is kept')
  })
}

t.test('postgres: the session listener says when it is up and when it is lost, and comes back by itself', async (t) => {
  const url = await testDatabase(t)
  const states: string[] = []
  const store = await openPostgresStore({ url, max: 2, onSessionListener: (state) => { states.push(state) } })
  t.teardown(async () => { await store.close() })
  t.same(states, [], 'not started before the first question (the command line never asks)')
  await store.sessions.endedNow('no-such-session')
  await waitFor(async () => states.includes('up'), 'the listener is up', 5000)
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  t.teardown(async () => { await sql.end() })
  await sql.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'auth-service-sessions' AND datname = current_database()")
  await waitFor(async () => states.includes('down'), 'the loss is told', 5000)
  t.equal(await store.sessions.endedNow('no-such-session'), false, 'answered while it reconnects (from the table when it is down)')
  await waitFor(async () => states.filter((s) => s === 'up').length === 2, 'it is back', 10000)
  t.same(states, ['up', 'down', 'up'])
})
