import { randomUUID } from 'node:crypto'
import { join as joinPath } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { userCache } from '../../../src/db/sqlite/user-cache.js'
import { bearer, build, join, nextTurn, PASSWORD, post, tempDir, testConfig } from '../../helpers/app.js'

/*
 * The SQLite store remembers users by id between requests (src/db/sqlite/user-cache.ts,
 * userCache). A deactivated, deleted or changed user must still be seen at
 * once: after this process's own writes immediately, after another
 * connection's change to users (another instance, the sqlite3 shell) from the
 * next event-loop turn on — seen through the triggers of migration 0006, which
 * count the changes to users in user_changes.
 */

function table (t: Parameters<typeof tempDir>[0]): { db: Database.Database, other: Database.Database, loads: string[], cache: ReturnType<typeof userCache<{ id: string, name: string }>> } {
  const path = joinPath(tempDir(t), 'cache.db')
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE u (id TEXT PRIMARY KEY, name TEXT NOT NULL)')
  db.prepare('INSERT INTO u VALUES (?, ?), (?, ?), (?, ?)').run('a', 'Ana', 'b', 'Bo', 'c', 'Cy')
  // As migration 0006 does for users.
  db.exec(`CREATE TABLE user_changes (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
    INSERT INTO user_changes VALUES (1, 0);
    CREATE TRIGGER u_update AFTER UPDATE ON u BEGIN UPDATE user_changes SET version = version + 1 WHERE id = 1; END;
    CREATE TRIGGER u_delete AFTER DELETE ON u BEGIN UPDATE user_changes SET version = version + 1 WHERE id = 1; END;
    CREATE TABLE tokens (id TEXT PRIMARY KEY)`)
  const other = new Database(path)
  t.teardown(() => { other.close(); db.close() })
  const loads: string[] = []
  const byId = db.prepare('SELECT id, name FROM u WHERE id = ?')
  const version = db.prepare('SELECT version FROM user_changes WHERE id = 1').pluck()
  const cache = userCache(() => version.get(), (id) => {
    loads.push(id)
    return byId.get(id) as { id: string, name: string } | undefined
  }, 2)
  return { db, other, loads, cache }
}

t.test('a user is read once, then remembered across turns while nothing changes', async (t) => {
  const { loads, cache } = table(t)
  t.same(cache.get('a'), { id: 'a', name: 'Ana' })
  await nextTurn()
  t.same(cache.get('a'), { id: 'a', name: 'Ana' })
  await nextTurn()
  t.same(cache.get('a'), { id: 'a', name: 'Ana' })
  t.same(loads, ['a'], 'one read for three lookups')
  t.ok(Object.isFrozen(cache.get('a')), 'shared rows cannot be changed by a caller')
})

t.test('unknown ids are not remembered (a user created later is found)', async (t) => {
  const { db, loads, cache } = table(t)
  t.equal(cache.get('z'), undefined)
  db.prepare('INSERT INTO u VALUES (?, ?)').run('z', 'Zed')
  t.same(cache.get('z'), { id: 'z', name: 'Zed' })
  t.same(loads, ['z', 'z'])
})

t.test('forget: this connection\'s own write is seen at once', async (t) => {
  const { db, cache } = table(t)
  t.same(cache.get('a')?.name, 'Ana')
  db.prepare('UPDATE u SET name = ? WHERE id = ?').run('Ann', 'a')
  t.equal(cache.get('a')?.name, 'Ana', 'within the turn, without forget, the row is remembered')
  cache.forget('a')
  t.equal(cache.get('a')?.name, 'Ann', 'forgotten: read again')
})

t.test('another connection\'s commit empties the cache from the next turn on', async (t) => {
  const { other, loads, cache } = table(t)
  t.equal(cache.get('a')?.name, 'Ana')
  t.equal(cache.get('b')?.name, 'Bo')
  await nextTurn()
  other.prepare('UPDATE u SET name = ? WHERE id = ?').run('Ann', 'a')
  other.prepare('DELETE FROM u WHERE id = ?').run('b')
  await nextTurn()
  t.equal(cache.get('a')?.name, 'Ann', 'the other connection\'s update is seen')
  t.equal(cache.get('b'), undefined, 'the other connection\'s delete is seen')
  t.same(loads, ['a', 'b', 'a', 'b'])
})

t.test('another connection\'s commits that leave users alone (token rotations) keep the cache', async (t) => {
  const { other, loads, cache } = table(t)
  t.equal(cache.get('a')?.name, 'Ana')
  for (let i = 0; i < 3; i++) {
    other.prepare('INSERT INTO tokens VALUES (?)').run(`t${i}`)
    await nextTurn()
    t.equal(cache.get('a')?.name, 'Ana')
  }
  t.same(loads, ['a'], 'read once')
})

t.test('at most max users: a full cache keeps the users it has (src/bounded-cache.ts)', async (t) => {
  const { loads, cache } = table(t)
  cache.get('a')
  cache.get('b')
  const c = cache.get('c')
  t.same(c, { id: 'c', name: 'Cy' }, 'max 2: c is read')
  t.notOk(Object.isFrozen(c), 'and, not taken by the full cache, left unfrozen: nothing is memoised for a row used once')
  t.ok(Object.isFrozen(cache.get('a')), 'a remembered row is frozen')
  cache.get('a')
  cache.get('b')
  t.same(loads, ['a', 'b', 'c'], 'a and b remembered')
  cache.get('c')
  t.same(loads, ['a', 'b', 'c', 'c'], 'c was not: read again')
})

t.test('through the API: deactivation, deletion and changes made by another process are seen', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  if (config.database.kind !== 'sqlite') throw new Error('expected SQLite')
  const a = await join(app, { name: 'Ana' })
  const b = await join(app)
  const c = await join(app)
  const mypage = async (access: string) => await app.inject({ url: '/account/mypage', headers: bearer(access) })
  for (const s of [a, b, c]) t.equal((await mypage(s.access)).statusCode, 200, 'remembered after a first request')

  // The sqlite3 shell, an admin script, another instance: another connection.
  const shell = new Database(config.database.path)
  t.teardown(() => shell.close())
  shell.prepare('UPDATE users SET is_active = 0 WHERE id = ?').run(a.user.id)
  shell.prepare('DELETE FROM users WHERE id = ?').run(b.user.id)
  shell.prepare('UPDATE users SET name = ? WHERE id = ?').run('Cy renamed', c.user.id)
  await nextTurn()

  for (const s of [a, b]) {
    for (const res of [await mypage(s.access), await post(app, '/account/token/verify', { token: s.access }), await post(app, '/account/token/refresh', { refresh: s.refresh })]) {
      t.equal(res.statusCode, 401)
      t.equal(res.json().code, 'TOKEN_INVALID')
    }
  }
  t.equal((await mypage(c.access)).json().user.name, 'Cy renamed')
})

t.test('through the API: the service\'s own writes are seen at once', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const mypage = async () => await app.inject({ url: '/account/mypage', headers: bearer(s.access) })
  const before = (await mypage()).json().user.last_login
  await new Promise((resolve) => setTimeout(resolve, 5))
  const login = await post(app, '/account/login', { email: s.email, password: PASSWORD })
  t.equal(login.statusCode, 200)
  t.not((await mypage()).json().user.last_login, before, 'a login updates last_login as mypage shows it')
  await app.store.users.setActive(String(s.user.id), false)
  t.equal((await mypage()).statusCode, 401, 'deactivated: refused at the next request')
  await app.store.users.setActive(String(s.user.id), true)
  t.equal((await mypage()).statusCode, 200, 'reactivated')
  const changed = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'another-Horse-battery-7' }, bearer(s.access))
  t.equal(changed.statusCode, 200)
  // With the pair the change returned: the earlier access token is refused since the change.
  const old = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'third-Horse-battery-5' }, bearer(changed.json().access))
  t.equal(old.json().code, 'INVALID_PASSWORD', 'the old password no longer matches: the changed hash was read, not a remembered one')
  await app.store.users.remove(String(s.user.id))
  t.equal((await mypage()).statusCode, 401, 'deleted: refused at the next request')
})

t.test('the store: its own logins, verifications and the writer thread\'s rotations keep other users cached; another connection\'s change does not', async (t) => {
  const app = await build(t)
  const a = await join(app)
  const b = await join(app)
  const cached = app.store.users.byIdNow?.(String(a.user.id))
  t.ok(cached !== undefined && Object.isFrozen(cached), 'a is cached')
  await nextTurn()
  t.equal(app.store.users.byIdNow?.(String(a.user.id)), cached, 'same row next turn')

  const bBefore = app.store.users.byIdNow?.(String(b.user.id))
  t.equal((await post(app, '/account/login', { email: b.email, password: PASSWORD })).statusCode, 200, 'b logs in (last_login written)')
  await nextTurn()
  t.equal(app.store.users.byIdNow?.(String(a.user.id)), cached, 'b\'s login left a cached')
  t.not(app.store.users.byIdNow?.(String(b.user.id)), undefined, 'b is read again')
  t.not(app.store.users.byIdNow?.(String(b.user.id)), bBefore, 'a new row for b, not the one cached before its login')

  t.equal((await post(app, '/account/token/refresh', { refresh: b.refresh })).statusCode, 200, 'b refreshes (a rotation on the writer thread\'s connection)')
  await nextTurn()
  t.equal(app.store.users.byIdNow?.(String(a.user.id)), cached, 'the rotation left a cached')

  // An email verification writes users too (found from its token, not named by the caller).
  const now = Math.floor(Date.now() / 1000)
  const tokenId = randomUUID()
  await app.store.accountTokens.create({ id: tokenId, userId: String(b.user.id), purpose: 'email_verification', email: b.email, passwordFingerprint: null, expiresAt: now + 600, createdAt: now })
  const verified = await app.store.accountTokens.verifyEmail(tokenId, now, () => true)
  t.equal(verified?.emailVerified, true, 'b verifies the address')
  await nextTurn()
  t.equal(app.store.users.byIdNow?.(String(a.user.id)), cached, 'b\'s verification left a cached')
  t.equal(app.store.users.byIdNow?.(String(b.user.id))?.emailVerified, true, 'b is read again, verified')

  // An import updating an existing user (the operators' Django import, the same
  // Django id imported again) writes users too.
  const row = { ...app.store.users.byIdNow?.(String(b.user.id)), id: randomUUID(), email: 'c@import.test', passwordHash: 'x', name: 'Cee', isActive: true, isStaff: false, isSuperuser: false, emailVerified: true, legacyId: '7' }
  type Imported = Parameters<typeof app.store.users.importMany>[0][number]
  t.same(await app.store.users.importMany([row as Imported], () => false), ['created'], 'c imported')
  const c = await app.store.users.byEmail('c@import.test')
  t.ok(c !== undefined && app.store.users.byIdNow?.(c.id) !== undefined, 'c is cached')
  await nextTurn()
  t.same(await app.store.users.importMany([{ ...row, id: randomUUID(), name: 'Cecil' } as Imported], () => false), ['updated'], 'c re-imported with a new name')
  await nextTurn()
  t.equal(app.store.users.byIdNow?.(String(a.user.id)), cached, 'c\'s import left a cached')
  t.equal(app.store.users.byIdNow?.(c?.id ?? '')?.name, 'Cecil', 'c is read again, renamed')

  // The migration's triggers on the real file: another connection's change empties the cache.
  const other = new Database(joinPath(app.config.dataDir, 'auth.db'))
  t.teardown(() => { other.close() })
  other.prepare('UPDATE users SET name = ? WHERE id = ?').run('Bea', String(b.user.id))
  await nextTurn()
  const reread = app.store.users.byIdNow?.(String(a.user.id))
  t.not(reread, cached, 'a is read again after another connection changed users')
  t.same(reread, cached, 'with the same content')
})

t.test('USER_CACHE_SIZE: the store remembers that many users; 0 reads the row every time', async (t) => {
  for (const [size, same] of [['4096', true], ['0', false]] as const) {
    const app = await build(t, { USER_CACHE_SIZE: size })
    const s = await join(app)
    const first = app.store.users.byIdNow?.(String(s.user.id))
    const again = app.store.users.byIdNow?.(String(s.user.id))
    t.match(again, { id: s.user.id, email: s.email }, `USER_CACHE_SIZE=${size}: the user`)
    t.equal(first === again, same, same ? 'the remembered row itself' : 'a fresh read each time')
    t.equal((await app.inject({ url: '/account/mypage', headers: bearer(s.access) })).statusCode, 200)
  }
})
