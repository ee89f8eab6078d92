import pg from 'pg'
import t, { type Test } from 'tap'
import { openPostgresStore } from '../../../src/db/postgres/store.js'
import { USER_CACHE_TTL_MS, USER_CHANNEL } from '../../../src/db/postgres/user-cache.js'
import type { NewUser, Store } from '../../../src/db/store.js'
import { PG_ADMIN_URL, testDatabase } from '../../helpers/postgres.js'
import { waitFor } from '../../helpers/app.js'

/*
 * The PostgreSQL store's user cache across instances: two stores on one
 * database stand for two instances. A change made through either is seen by
 * the other within milliseconds (NOTIFY auth_user_changed); a change made
 * beside the service (plain SQL) within the cache's TTL; with the listener
 * down, nothing is served from the cache.
 */

const user = (id: string): NewUser => ({ id, email: `${id}@example.com`, passwordHash: 'h', name: id, gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null })

async function instances (t: Test, ttl = USER_CACHE_TTL_MS): Promise<{ a: Store, b: Store, sql: pg.Client, url: string, states: string[] }> {
  const url = await testDatabase(t)
  const states: string[] = []
  const a = await openPostgresStore({ url, max: 2, userCacheTtlMs: ttl })
  const b = await openPostgresStore({ url, max: 2, userCacheTtlMs: ttl, onListener: (state) => { states.push(state) } })
  t.teardown(async () => { await a.close(); await b.close() })
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  t.teardown(async () => { await sql.end() })
  await waitFor(() => states.includes('up'), 'the listener is up')
  return { a, b, sql, url, states }
}

t.test('rows are served from the cache: a change beside the service is not read until the TTL has passed', async (t) => {
  const { a, b, sql } = await instances(t, 400)
  await a.users.create(user('u1'))
  t.equal((await b.users.byId('u1'))?.name, 'u1')
  await sql.query("UPDATE users SET name = 'changed' WHERE id = 'u1'")
  t.equal((await b.users.byId('u1'))?.name, 'u1', 'remembered (no NOTIFY from plain SQL): the cache saves the read')
  await new Promise((resolve) => setTimeout(resolve, 450))
  t.equal((await b.users.byId('u1'))?.name, 'changed', 'read again once the TTL has passed')
})

t.test('deactivation, a password change and removal through one instance reach the other\'s cache', async (t) => {
  const { a, b } = await instances(t)
  await a.users.create(user('u1'))
  await a.users.create(user('u2'))
  t.equal((await b.users.byId('u1'))?.isActive, true)
  t.equal((await b.users.byId('u2'))?.passwordHash, 'h')

  await a.users.setActive('u1', false)
  await waitFor(async () => (await b.users.byId('u1'))?.isActive === false, 'deactivation seen by b')
  t.pass('deactivation seen by the other instance')

  const now = Math.floor(Date.now() / 1000)
  await a.users.setPassword('u2', 'h2', now, { id: 'tok', userId: 'u2', familyId: 'f', expiresAt: now + 60, createdAt: now })
  await waitFor(async () => (await b.users.byId('u2'))?.passwordHash === 'h2', 'password change seen by b')
  t.pass('password change seen by the other instance')

  await a.users.recordLogin('u2', new Date(now * 1000))
  await waitFor(async () => (await b.users.byId('u2'))?.lastLogin?.getTime() === now * 1000, 'last_login seen by b')
  t.pass('a login seen by the other instance (mypage shows last_login)')

  await a.users.remove('u1')
  await waitFor(async () => (await b.users.byId('u1')) === undefined, 'removal seen by b')
  t.pass('removal seen by the other instance')
})

// Every NOTIFY makes every instance drop that user's cached row (and read it
// again): only writes that change the row send one. A login does: last_login
// is in the row GET /account/mypage answers from, and docs/API.md promises a
// login is seen by every instance within milliseconds (docs/several-instances.md).
t.test('NOTIFY only for writes that change a user\'s row: a login, a deactivation, a password, a logout everywhere; not refreshes, logouts or refused mailed tokens', async (t) => {
  const { a, sql } = await instances(t)
  const heard: string[] = []
  sql.on('notification', (msg) => { if (msg.channel === USER_CHANNEL) heard.push(msg.payload ?? '') })
  await sql.query(`LISTEN ${USER_CHANNEL}`)
  await a.users.create(user('u1'))
  await a.users.create(user('marker'))
  let flip = false
  /** The user ids `work` notified: a marker write after it flushes the channel (notifications arrive in commit order). */
  const notified = async (work: () => Promise<unknown>): Promise<string[]> => {
    heard.length = 0
    await work()
    await a.users.setActive('marker', flip = !flip)
    await waitFor(() => heard.includes('marker'), 'the marker')
    return heard.filter((id) => id !== 'marker')
  }
  const now = Math.floor(Date.now() / 1000)
  const token = (familyId = 'f1'): { id: string, userId: string, familyId: string, expiresAt: number, createdAt: number } =>
    ({ id: `tok-${Math.random()}`, userId: 'u1', familyId, expiresAt: now + 60, createdAt: now })
  const first = token()
  const accept = (): boolean => true

  t.same(await notified(async () => { await a.users.recordLogin('u1', new Date(now * 1000), undefined, first) }), ['u1'], 'a login (last_login)')
  t.same(await notified(async () => await a.refreshTokens.rotate(first.id, token(), now)), [], 'a refresh')
  t.same(await notified(async () => await a.refreshTokens.revokeFamily('u1', 'f1', now)), [], 'a logout')
  t.same(await notified(async () => await a.refreshTokens.revokeUser('u1', now, 'logout_all', now * 1000)), ['u1'], 'a logout everywhere (it records tokens_valid_after on the user)')
  t.same(await notified(async () => { await a.accountTokens.create({ id: 'mail-1', userId: 'u1', purpose: 'password_reset', email: 'u1@example.com', passwordFingerprint: 'fp', expiresAt: now + 60, createdAt: now }) }), [], 'a mailed token')
  t.same(await notified(async () => await a.accountTokens.resetPassword('mail-1', 'h2', token('f2'), now, () => false)), [], 'a refused reset')
  t.same(await notified(async () => await a.accountTokens.verifyEmail('no-such-token', now, accept)), [], 'a refused verification')
  t.same(await notified(async () => await a.users.updateProfile('u1', {})), [], 'an empty profile change')
  t.same(await notified(async () => { await a.users.setActive('u1', false) }), ['u1'], 'a deactivation')
  t.same(await notified(async () => { await a.users.setPassword('u1', 'h3', now) }), ['u1'], 'a password set')
})

t.test('an instance\'s own write is seen by it at once', async (t) => {
  const { b } = await instances(t)
  await b.users.create(user('u1'))
  t.equal((await b.users.byId('u1'))?.isActive, true)
  await b.users.setActive('u1', false)
  t.equal((await b.users.byId('u1'))?.isActive, false)
})

t.test('with its listener down an instance reads every user from the database; the cache returns with the listener', async (t) => {
  const { a, b, sql, url, states } = await instances(t)
  await a.users.create(user('u1'))
  t.equal((await b.users.byId('u1'))?.name, 'u1')
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  t.teardown(async () => { await admin.end() })
  const database = new URL(url).pathname.slice(1)
  // Both listeners die (as in a network cut of that one connection).
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'auth-service-listener'", [database])
  await waitFor(() => states.includes('down'), 'b notices its listener is gone')
  await sql.query("UPDATE users SET name = 'while-down' WHERE id = 'u1'")
  t.equal((await b.users.byId('u1'))?.name, 'while-down', 'no cache while notifications may be missed')

  await waitFor(() => states.filter((s) => s === 'up').length >= 2, 'the listener reconnects')
  t.equal((await b.users.byId('u1'))?.name, 'while-down')
  await a.users.setActive('u1', false)
  await waitFor(async () => (await b.users.byId('u1'))?.isActive === false, 'notifications flow again')
  t.pass('notifications flow again after the reconnect')
})

t.test('USER_CACHE_SIZE (userCacheSize): 0 reads the row on every request, as with no cache', async (t) => {
  const url = await testDatabase(t)
  for (const [size, same] of [[4096, true], [0, false]] as const) {
    const store = await openPostgresStore({ url, max: 2, userCacheSize: size })
    t.teardown(async () => { await store.close() })
    const created = await store.users.create(user(`size-${size}`))
    // Rows are remembered once the store's listener is up.
    await waitFor(async () => { const a = await store.users.byId(created.id); return !same || a === await store.users.byId(created.id) }, 'the listener up')
    const first = await store.users.byId(created.id)
    const again = await store.users.byId(created.id)
    t.match(again, { id: created.id }, `userCacheSize ${size}: the user`)
    t.equal(first === again, same, same ? 'the remembered row itself' : 'a fresh read each time')
  }
})
