import { join as joinPath } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { build, join, migrationJournal, PASSWORD, post, storeToken, tempDir } from '../helpers/app.js'

t.test('a restart on the same data directory keeps users, tokens and the generated secret', async (t) => {
  const dir = tempDir(t)
  const env = { DATABASE_URL: `file:${joinPath(dir, 'auth.db')}`, LOG_LEVEL: 'silent', COOKIE_SECURE: 'false' }
  const first = await build(t, {}, loadConfig(env))
  const s = await join(first)
  await first.close()

  const second = await build(t, {}, loadConfig(env))
  const me = await second.inject({ url: '/account/mypage', headers: { authorization: `Bearer ${s.access}` } })
  t.equal(me.statusCode, 200, 'an access token from before the restart is still valid (same secret)')
  t.equal((await post(second, '/account/login', { email: s.email, password: PASSWORD })).statusCode, 200, 'the user is still there')
  t.equal((await post(second, '/account/token/refresh', { refresh: s.refresh })).statusCode, 200, 'refresh tokens survive too')
})

t.test('the database is in WAL mode with foreign keys, migrated once', async (t) => {
  const dir = tempDir(t)
  const path = joinPath(dir, 'auth.db')
  const app = await build(t, {}, loadConfig({ DATABASE_URL: path, LOG_LEVEL: 'silent' }))
  await app.close()
  const again = await build(t, {}, loadConfig({ DATABASE_URL: path, LOG_LEVEL: 'silent' }))
  await again.close()
  const db = new Database(path, { readonly: true })
  t.teardown(() => db.close())
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name)
  t.ok(tables.includes('users') && tables.includes('refresh_tokens'), tables.join(','))
  const journal = migrationJournal('sqlite')
  t.ok(journal.entries.length >= 2, 'the journal lists the migrations')
  t.equal((db.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n, journal.entries.length, 'each migration applied once')
})

t.test('expired refresh-token rows are purged at start', async (t) => {
  const dir = tempDir(t)
  const env = { DATABASE_URL: joinPath(dir, 'auth.db'), LOG_LEVEL: 'silent' }
  const app = await build(t, {}, loadConfig(env))
  const s = await join(app)
  const past = Math.floor(Date.now() / 1000) - 10
  await storeToken(app.store, { id: 'expired-1', userId: String(s.user.id), familyId: 'f', expiresAt: past, createdAt: past - 100 })
  t.ok(await app.store.refreshTokens.byId('expired-1'))
  await app.close()
  const again = await build(t, {}, loadConfig(env))
  t.equal(await again.store.refreshTokens.byId('expired-1'), undefined, 'the expired row is gone')
  t.equal((await post(again, '/account/token/refresh', { refresh: s.refresh })).statusCode, 200, 'live rows stay')
})
