import { spawnSync } from 'node:child_process'
import { join as joinPath } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import t, { type Test } from 'tap'
import { migrationJournal, PASSWORD, tempDir } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'
import { REDIS_TEST_URL, redisPrefix } from '../helpers/redis.js'
import { logRecords, startServer, startTestServer, stopServer, type ServerProcess } from '../helpers/server.js'

/*
 * WORKERS=N: one primary forks N processes sharing the port (node:cluster),
 * on SQLite (one file, WAL) or PostgreSQL, with the rate limits in Redis.
 * Real processes: the cluster is the point.
 */

const JWT_SECRET = 'workers-test-secret-0123456789abcdefgh'

/** Starts WORKERS=2 and resolves once both workers listen. */
async function cluster (t: Test, env: Record<string, string>): Promise<ServerProcess> {
  const server = await startTestServer(t, { WORKERS: '2', JWT_SECRET, REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix(t), ...env })
  for (let i = 0; i < 600 && server.lines.filter((l) => /listening at/.test(l)).length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  return server
}

/** A request on a connection of its own, so that the cluster may hand it to either worker. */
async function call (url: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, json: Record<string, unknown>, headers: Headers }> {
  const res = await fetch(url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { connection: 'close', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: res.status, json: await res.json() as Record<string, unknown>, headers: res.headers }
}

/** The pids that answered requests, from the access log. */
/**
 * The processes that wrote a request line. Lines are written in batches (at
 * least every second when quiet, src/log.ts), so wait for them a little.
 */
async function servingPids (server: ServerProcess, expected: number): Promise<Set<unknown>> {
  const seen = (): Set<unknown> => new Set(logRecords(server.lines).filter((r) => r.msg === 'request').map((r) => r.pid))
  for (let i = 0; i < 50 && seen().size < expected; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  return seen()
}

for (const kind of ['sqlite', 'postgres'] as const) {
  t.test(`${kind}: WORKERS=2 serves from two processes that act as one, and stops cleanly on SIGTERM`, async (t) => {
    const database = kind === 'sqlite' ? joinPath(tempDir(t), 'auth.db') : await testDatabase(t)
    const server = await cluster(t, { DATABASE_URL: database, RATE_LIMIT_LOGIN_MAX: '4', RATE_LIMIT_JOIN_MAX: '1000' })
    const listening = logRecords(server.lines).filter((r) => /listening at/.test(String(r.msg)))
    t.equal(new Set(listening.map((r) => r.pid)).size, 2, 'two workers listen')
    t.equal(new Set(listening.map((r) => r.msg)).size, 1, 'on one port')

    const email = `workers-${kind}@example.com`
    const joined = await call(server.url, '/account/join', { email, password: PASSWORD })
    t.equal(joined.status, 201)
    // Logins spread over both workers; every one sees the user.
    for (let i = 0; i < 6; i++) {
      const res = await call(server.url, '/account/login', { email: `other-${i}@example.com`, password: PASSWORD })
      if (i < 4) t.equal(res.status, 401, `failed login ${i + 1}`)
      else t.equal(res.status, 429, `attempt ${i + 1} is over the shared limit of 4`)
    }
    t.equal((await servingPids(server, 2)).size, 2, 'both workers answered requests')

    const me = await call(server.url, '/account/mypage', undefined, { authorization: `Bearer ${String(joined.json.access)}` })
    t.equal(me.status, 200)

    const { code, signal } = await stopServer(server, 'SIGTERM')
    t.equal(code, 0, `the primary exits 0 once its workers have stopped (signal ${String(signal)})`)
    t.ok(logRecords(server.lines).some((r) => r.msg === 'all workers stopped'))
    if (kind === 'sqlite') {
      const db = new Database(database, { readonly: true })
      t.teardown(() => db.close())
      t.equal((db.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n, migrationJournal('sqlite').entries.length, 'migrated once')
    } else {
      const sql = new pg.Client({ connectionString: database })
      await sql.connect()
      t.teardown(async () => { await sql.end() })
      t.equal((await sql.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')).rows[0].n, migrationJournal('postgres').entries.length, 'migrated once')
    }
  })
}

t.test('sqlite: a user deactivated through another process on the file is refused by every worker at once', async (t) => {
  const database = joinPath(tempDir(t), 'auth.db')
  const server = await cluster(t, { DATABASE_URL: database })
  const joined = await call(server.url, '/account/join', { email: 'deactivate@example.com', password: PASSWORD })
  const auth = { authorization: `Bearer ${String(joined.json.access)}` }
  // Warm both workers' user caches.
  for (let i = 0; i < 6; i++) t.equal((await call(server.url, '/account/mypage', undefined, auth)).status, 200)
  const db = new Database(database)
  t.teardown(() => db.close())
  db.prepare('UPDATE users SET is_active = 0 WHERE email = ?').run('deactivate@example.com')
  for (let i = 0; i < 6; i++) {
    const res = await call(server.url, '/account/mypage', undefined, auth)
    t.equal(res.status, 401, `request ${i + 1}: ${JSON.stringify(res.json)}`)
  }
})

t.test('a worker that dies is replaced; the service keeps answering', async (t) => {
  // Secure cookies on a plain-http staging host: warned about once by the primary, by no worker.
  const server = await cluster(t, { DATABASE_URL: joinPath(tempDir(t), 'auth.db'), PUBLIC_URL: 'http://staging.example.test/', COOKIE_SECURE: 'true' })
  const pids = logRecords(server.lines).filter((r) => /listening at/.test(String(r.msg))).map((r) => Number(r.pid))
  t.equal(pids.length, 2)
  // A worker that dies within 5 s of listening counts as a failed start (the whole service stops).
  await new Promise((resolve) => setTimeout(resolve, 5500))
  process.kill(pids[0]!, 'SIGKILL')
  for (let i = 0; i < 600 && logRecords(server.lines).filter((r) => /listening at/.test(String(r.msg))).length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  const listening = logRecords(server.lines).filter((r) => /listening at/.test(String(r.msg)))
  t.equal(listening.length, 3, 'a third worker listens')
  t.ok(logRecords(server.lines).some((r) => r.msg === 'a worker exited; starting a replacement' && r.worker === pids[0]), 'the primary says so')
  for (let i = 0; i < 4; i++) t.equal((await call(server.url, '/health')).status, 200)
  const warnings = logRecords(server.lines).filter((r) => r.event === 'secure_cookies_over_http')
  t.equal(warnings.length, 1, 'three workers started, one warning')
  t.match(warnings[0], { role: 'primary', level: 40, publicUrl: 'http://staging.example.test/', cookieSecure: true, msg: /PUBLIC_URL .*COOKIE_SECURE=true/ })
})

t.test('Ctrl-C (SIGINT to the whole process group) stops the workers gracefully, once: exit 0', async (t) => {
  const database = joinPath(tempDir(t), 'auth.db')
  const server = await startServer({ WORKERS: '2', JWT_SECRET, REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix(t), DATABASE_URL: database }, { detached: true })
  t.teardown(() => { try { process.kill(-server.pid, 'SIGKILL') } catch { /* the group is gone */ } })
  for (let i = 0; i < 600 && server.lines.filter((l) => /listening at/.test(l)).length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  process.kill(-server.pid, 'SIGINT')
  const { code } = await server.exited
  t.equal(code, 0, server.lines.slice(-10).join('\n'))
  t.notOk(server.lines.some((l) => /second SIG|exiting/.test(l)), 'no worker gave up on its requests')
  t.equal(logRecords(server.lines).filter((r) => r.msg === 'shutting down' && r.role === undefined).length, 2, 'each worker shut down once')
})

t.test('WORKERS=2 without REDIS_URL: one line on stderr naming the variables, exit 1', async (t) => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, NODE_OPTIONS: '', WORKERS: '2', REDIS_URL: '', DATABASE_URL: joinPath(tempDir(t), 'a.db') },
    encoding: 'utf8',
    timeout: 60_000
  })
  t.equal(res.status, 1)
  t.equal(res.stderr.trim(), 'Invalid configuration: WORKERS is 2, which requires REDIS_URL (the rate limits must be shared by the processes)')
})

t.test('WORKERS=2 on a database that cannot be used: the primary says so once and exits 1', async (t) => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, NODE_OPTIONS: '', WORKERS: '2', REDIS_URL: REDIS_TEST_URL, JWT_SECRET, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' },
    encoding: 'utf8',
    timeout: 60_000
  })
  t.equal(res.status, 1)
  const lines = res.stderr.trim().split('\n')
  t.equal(lines.length, 1, res.stderr)
  t.match(lines[0], /^Cannot start: DATABASE_URL: cannot reach PostgreSQL at 127\.0\.0\.1:1\/nothing/)
})
