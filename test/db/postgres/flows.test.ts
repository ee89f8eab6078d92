import { spawn } from 'node:child_process'
import pg from 'pg'
import t, { type Test } from 'tap'
import { buildApp } from '../../../src/app.js'
import { DatabaseStartError } from '../../../src/db/postgres/errors.js'
import { openPostgresStore } from '../../../src/db/postgres/store.js'
import { bearer, build, join, migrationJournal, PASSWORD, post, refresh, storeToken, testConfig, uniqueEmail } from '../../helpers/app.js'
import { PG_ADMIN_URL, pgRelay, testDatabase } from '../../helpers/postgres.js'

/*
 * The service on PostgreSQL (DATABASE_URL=postgres://…). Each test gets its
 * own database; PostgreSQL must be running (these tests fail, never skip, when
 * it is not).
 */

const JWT_SECRET = 'postgres-test-secret-0123456789abcdef'

/**
 * The app on a fresh PostgreSQL database; `url` lets the test look at the rows
 * directly. Without the grace window (REFRESH_REUSE_INTERVAL=0): these tests
 * are about v1's reuse detection; test/refresh-grace.test.ts covers the window
 * on both databases.
 */
async function buildOnPostgres (t: Test, url?: string, direct = url) {
  url ??= await testDatabase(t)
  const app = await build(t, { DATABASE_URL: url, JWT_SECRET, REFRESH_REUSE_INTERVAL: '0' })
  const sql = new pg.Client({ connectionString: direct ?? url })
  await sql.connect()
  t.teardown(async () => { await sql.end() })
  return { app, url, sql }
}

const mypage = async (app: Parameters<typeof post>[0], access: string) => await app.inject({ url: '/account/mypage', headers: bearer(access) })

t.test('join → login → refresh → reuse detection → logout → mypage, on PostgreSQL', async (t) => {
  const { app, sql } = await buildOnPostgres(t)
  t.equal(app.config.database.kind, 'postgres')

  const email = uniqueEmail()
  const s = await join(app, { email: email.toUpperCase(), name: 'Ana', gender: 'female', date_of_birth: '1990-04-01' })
  t.match(s.user, { email, name: 'Ana', gender: 'female', date_of_birth: '1990-04-01', phone_number: null })
  t.match(s.user.date_joined, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const { rows } = await sql.query('SELECT email, password_hash, is_active FROM users WHERE id = $1', [s.user.id])
  t.equal(rows.length, 1, 'the user row is in PostgreSQL')
  t.equal(rows[0].email, email, 'stored lower-cased')
  t.match(rows[0].password_hash, /^\$argon2id\$/)
  t.equal(rows[0].is_active, true)

  const dup = await post(app, '/account/join', { email: email.replace(/^u/, 'U'), password: PASSWORD })
  t.equal(dup.statusCode, 409)
  t.equal(dup.json().code, 'EMAIL_TAKEN')

  const login = await post(app, '/account/login', { email, password: PASSWORD })
  t.equal(login.statusCode, 200)
  const l = login.json()
  t.match(l.user.last_login, /^\d{4}-\d\d-\d\dT/)
  const bad = await post(app, '/account/login', { email, password: 'wrong-Password-1' })
  t.equal(bad.statusCode, 401)
  t.equal(bad.json().code, 'INVALID_CREDENTIALS')

  const me = await mypage(app, l.access)
  t.equal(me.statusCode, 200)
  t.same(me.json(), { message: `반갑습니다, ${email}님!`, user: l.user })

  const r1 = await refresh(app, l.refresh)
  t.equal(r1.statusCode, 200)
  const rotated = r1.json()
  t.not(rotated.refresh, l.refresh)
  const replay = await refresh(app, l.refresh)
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'TOKEN_REVOKED', 'a rotated token presented again is reuse')
  const heir = await refresh(app, rotated.refresh)
  t.equal(heir.statusCode, 401)
  t.equal(heir.json().code, 'TOKEN_REVOKED', 'reuse revoked the whole family')

  // The join's own login is another family: untouched by that theft.
  const r2 = await refresh(app, s.refresh)
  t.equal(r2.statusCode, 200)
  const out = await post(app, '/account/logout', { refresh: r2.json().refresh })
  t.equal(out.statusCode, 200)
  t.same(out.json(), { detail: 'Successfully logged out.' })
  const afterLogout = await refresh(app, r2.json().refresh)
  t.equal(afterLogout.statusCode, 401)
  t.equal(afterLogout.json().code, 'TOKEN_REVOKED')
  const live = await sql.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [s.user.id])
  t.equal(live.rows[0].n, 0, 'no live refresh token left in PostgreSQL')

  // The logged-out session's access tokens are refused at once (its session
  // ended); another session's stay valid until they expire, but a deactivated user's do not.
  t.equal((await mypage(app, r2.json().access)).json().code, 'TOKEN_REVOKED')
  const other = (await post(app, '/account/login', { email, password: PASSWORD })).json()
  t.equal((await mypage(app, other.access)).statusCode, 200)
  // Through the store (as an admin command would): the user cache is told at
  // once (plain SQL beside the service is seen within the cache's TTL, see
  // test/pg-user-cache.test.ts).
  await app.store.users.setActive(String(s.user.id), false)
  t.equal((await sql.query('SELECT is_active FROM users WHERE id = $1', [s.user.id])).rows[0].is_active, false)
  const inactive = await mypage(app, other.access)
  t.equal(inactive.statusCode, 401)
  t.equal(inactive.json().code, 'TOKEN_INVALID')
})

t.test('password change on PostgreSQL revokes every refresh token and issues a new pair', async (t) => {
  const { app, sql } = await buildOnPostgres(t)
  const s = await join(app)
  const other = await post(app, '/account/login', { email: s.email, password: PASSWORD })
  const res = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'another-Secret-phrase-7' }, bearer(s.access))
  t.equal(res.statusCode, 200)
  for (const old of [s.refresh, other.json().refresh]) {
    const r = await refresh(app, old)
    t.equal(r.statusCode, 401)
    t.equal(r.json().code, 'TOKEN_REVOKED')
  }
  t.equal((await refresh(app, res.json().refresh)).statusCode, 200, 'the new login works')
  t.equal((await post(app, '/account/login', { email: s.email, password: 'another-Secret-phrase-7' })).statusCode, 200)
  const live = await sql.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [s.user.id])
  t.equal(live.rows[0].n, 2, 'the rotated new login and the fresh login')
})

t.test('concurrent refreshes of one token over HTTP: exactly one succeeds', async (t) => {
  const { app, sql } = await buildOnPostgres(t)
  const s = await join(app)
  const results = await Promise.all(Array.from({ length: 20 }, async () => await refresh(app, s.refresh)))
  const ok = results.filter((r) => r.statusCode === 200)
  t.equal(ok.length, 1, 'one rotation')
  for (const r of results.filter((r) => r.statusCode !== 200)) {
    t.equal(r.statusCode, 401)
    t.equal(r.json().code, 'TOKEN_REVOKED')
  }
  const live = await sql.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [s.user.id])
  t.equal(live.rows[0].n, 0, 'the concurrent reuse revoked the family, successor included')
})

t.test('an unreachable server stops the start with a clear error naming DATABASE_URL, without the password', async (t) => {
  const config = testConfig(t, { DATABASE_URL: 'postgres://auth:s3cret-pw@127.0.0.1:1/authdb', JWT_SECRET })
  const err = await buildApp(config).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof DatabaseStartError, 'a DatabaseStartError')
  t.match((err as Error).message, /^DATABASE_URL: cannot reach PostgreSQL at 127\.0\.0\.1:1\/authdb: .*ECONNREFUSED/)
  t.notMatch((err as Error).message, /s3cret-pw/)
  t.notMatch((err as Error).message, /\n/, 'one line')
})

t.test('a missing database or a refused login is named as such', async (t) => {
  const missing = new URL(PG_ADMIN_URL)
  missing.pathname = '/auth_test_does_not_exist'
  await t.rejects(openPostgresStore({ url: missing.toString() }), {
    name: 'DatabaseStartError',
    message: /^DATABASE_URL: PostgreSQL at [^ ]+\/auth_test_does_not_exist: database "auth_test_does_not_exist" does not exist$/
  })
  const role = new URL(PG_ADMIN_URL)
  role.username = 'no_such_role_for_auth_tests'
  await t.rejects(openPostgresStore({ url: role.toString() }), {
    name: 'DatabaseStartError',
    message: /^DATABASE_URL: PostgreSQL at \S+ refused the login: .*no_such_role_for_auth_tests/
  })
})

t.test('npm start against an unreachable PostgreSQL: one line on stderr, exit 1', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: '0', DATABASE_URL: 'postgres://auth:s3cret-pw@127.0.0.1:1/authdb', JWT_SECRET, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (d: Buffer) => { stderr += String(d) })
  child.stdout.on('data', (d: Buffer) => { stdout += String(d) })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 1)
  t.match(stderr, /^Cannot start: DATABASE_URL: cannot reach PostgreSQL at 127\.0\.0\.1:1\/authdb: .*ECONNREFUSED.*\n$/)
  t.equal(stderr.trim().split('\n').length, 1, 'one line, no stack')
  t.notMatch(stderr + stdout, /s3cret-pw/)
})

t.test('migrations: concurrent starts on an empty database all succeed, and re-opening is a no-op', async (t) => {
  const url = await testDatabase(t)
  const stores = await Promise.all([1, 2, 3].map(async () => await openPostgresStore({ url, max: 2 })))
  for (const s of stores) await s.close()
  const again = await openPostgresStore({ url, max: 1 })
  t.teardown(() => again.close())
  await again.ping()
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  t.teardown(async () => { await sql.end() })
  const applied = await sql.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')
  const journal = migrationJournal('postgres')
  t.ok(journal.entries.length >= 2, 'the journal lists the migrations')
  t.equal(applied.rows[0].n, journal.entries.length, 'each migration recorded once')
  const cols = await sql.query(`SELECT column_name, data_type FROM information_schema.columns
    WHERE table_name = 'users' AND column_name IN ('date_joined', 'is_active') ORDER BY column_name`)
  t.same(cols.rows, [{ column_name: 'date_joined', data_type: 'timestamp with time zone' }, { column_name: 'is_active', data_type: 'boolean' }])
  await t.resolves(again.close())
  await t.resolves(again.close(), 'close is idempotent')
})

t.test('PostgreSQL out of reach mid-run → 503 SERVICE_UNAVAILABLE (never a 500), then recovery', async (t) => {
  const direct = await testDatabase(t)
  const { url: viaRelay, cut, restore } = await pgRelay(t, direct)
  const { app } = await buildOnPostgres(t, viaRelay, direct)
  const s = await join(app)

  await cut()
  const attempts = [
    await post(app, '/account/login', { email: s.email, password: PASSWORD }),
    await mypage(app, s.access),
    await refresh(app, s.refresh),
    await mypage(app, s.access)
  ]
  for (const res of attempts) {
    t.equal(res.statusCode, 503, `${res.statusCode} ${res.body}`)
    t.match(res.json(), { statusCode: 503, code: 'SERVICE_UNAVAILABLE', error: 'Service Unavailable' })
    t.equal(res.headers['retry-after'], '5')
    t.notMatch(res.body, /ECONNREFUSED|at .*\.ts|SELECT|password_hash/, 'no internals')
  }

  await restore()
  const back = await mypage(app, s.access)
  t.equal(back.statusCode, 200, 'fresh connections once the server is back')
  t.equal((await refresh(app, s.refresh)).statusCode, 200)
})

t.test('connections killed by the server (as on a restart) never give a 500; the service recovers', async (t) => {
  const { app, url } = await buildOnPostgres(t)
  const s = await join(app)
  // Warm several pooled connections.
  await Promise.all(Array.from({ length: 6 }, async () => await mypage(app, s.access)))
  const database = new URL(url).pathname.slice(1)
  const killer = new pg.Client({ connectionString: PG_ADMIN_URL })
  await killer.connect()
  t.teardown(async () => { await killer.end() })
  await killer.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'auth-service'", [database])
  const first = await Promise.all(Array.from({ length: 6 }, async () => await mypage(app, s.access)))
  for (const res of first) t.ok(res.statusCode === 200 || res.statusCode === 503, `got ${res.statusCode}`)
  const after = await mypage(app, s.access)
  t.equal(after.statusCode, 200)
})

t.test('cutting the connection in the middle of transactions fails them cleanly (no crash, 503-class errors)', async (t) => {
  const direct = await testDatabase(t)
  const { url: viaRelay, cut, restore } = await pgRelay(t, direct)
  const store = await openPostgresStore({ url: viaRelay, max: 8, connectionTimeoutMillis: 2000 })
  t.teardown(() => store.close())
  const now = Math.floor(Date.now() / 1000)
  await store.users.create({ id: 'u1', email: 'u1@example.com', passwordHash: 'h', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null })
  const token = (id: string) => ({ id, userId: 'u1', familyId: `f-${id}`, expiresAt: now + 100, createdAt: now })
  for (let i = 0; i < 40; i++) await storeToken(store, token(`t${i}`))

  // 40 rotations, one asked per turn of the event loop so that they go as
  // several group commits (src/db/postgres/rotations.ts); the link is cut once
  // the first is answered, while the next batches are in flight or waiting.
  const running: Array<Promise<unknown>> = []
  let cutDone: Promise<void> | undefined
  for (let i = 0; i < 40; i++) {
    const rotation = store.refreshTokens.rotate(`t${i}`, token(`n${i}`), now)
    // Handled now: one may fail (the link cut) before the loop ends and allSettled below looks at it.
    rotation.catch(() => {})
    running.push(rotation)
    if (i === 0) void running[0]!.then(() => { cutDone = cut() }, () => { cutDone = cut() })
    await new Promise((resolve) => setImmediate(resolve))
  }
  const first = running[0]!.catch(() => {})
  const results = await Promise.allSettled(running)
  await first
  await cutDone
  const failed = results.filter((r) => r.status === 'rejected')
  t.ok(failed.length > 0, `some rotations were cut off (${failed.length} of 40)`)
  for (const r of failed) {
    const code = String(r.reason?.code)
    t.match(code, /^(SERVICE_UNAVAILABLE|08...|57P0[1-3]|E[A-Z]+)$/, `a connection-class error: ${code} ${String(r.reason?.message)}`)
  }
  for (const r of results) if (r.status === 'fulfilled') t.same(r.value, { kind: 'rotated' })

  // No connection leaked: once the link is back, all 8 slots serve again.
  await restore()
  // Connections that were idle when the link was cut are dropped by the pool
  // when it hears of it (or on their next use, which fails once).
  for (let attempt = 1; attempt <= 9; attempt++) if (await store.ping().then(() => true, () => false)) break
  await t.resolves(Promise.all(Array.from({ length: 24 }, async () => await store.ping())), 'the whole pool is usable')
  const outcomes = await Promise.all(Array.from({ length: 8 }, async (_, i) => await store.refreshTokens.rotate(`t${39 - i}`, token(`m${i}`), now)))
  t.ok(outcomes.every((o) => o.kind === 'rotated' || o.kind === 'reused'), 'rotations work again')
})
