import pg from 'pg'
import t from 'tap'
import { PASSWORD } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'
import { REDIS_TEST_URL, redisPrefix } from '../helpers/redis.js'
import { startTestServer } from '../helpers/server.js'

/*
 * Two service processes started at the same moment on free ports, sharing one
 * fresh PostgreSQL database and Redis (a key prefix of this test's own), must
 * behave as one service: first with REFRESH_REUSE_INTERVAL=0 (no grace window,
 * every replay of a rotated refresh token is theft, the v1 rule), then with the
 * grace window on.
 */

const JWT_SECRET = 'multi-instance-secret-0123456789abcdef'

async function call (base: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, json: Record<string, unknown>, retryAfter: string | null }> {
  const res = await fetch(base + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return { status: res.status, json: await res.json() as Record<string, unknown>, retryAfter: res.headers.get('retry-after') }
}

t.test('two instances on one PostgreSQL database and one Redis act as one service', async (t) => {
  const url = await testDatabase(t)
  const env = {
    DATABASE_URL: url,
    JWT_SECRET,
    REDIS_URL: REDIS_TEST_URL,
    REDIS_KEY_PREFIX: redisPrefix(t),
    REFRESH_REUSE_INTERVAL: '0',
    RATE_LIMIT_LOGIN_MAX: '4',
    RATE_LIMIT_JOIN_MAX: '1000',
    LOG_LEVEL: 'warn',
    // The spraying client is told apart by X-Forwarded-For, as behind a gateway.
    TRUST_PROXY: '127.0.0.1'
  }
  // Started together on an empty database: both migrate it, once.
  const [a, b] = await Promise.all([startTestServer(t, env, { quiet: true }), startTestServer(t, env, { quiet: true })])
  t.not(a.url, b.url, 'two processes, two ports')
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  t.teardown(async () => { await sql.end() })

  t.test('five failed logins from one client alternating between A and B: the fifth is refused (limit 4)', async (t) => {
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      const res = await call(i % 2 === 0 ? a.url : b.url, '/account/login', { email: `spray-${i}@example.com`, password: 'wrong-password-1' }, { 'x-forwarded-for': '203.0.113.7' })
      statuses.push(res.status)
      if (res.status === 429) t.ok(Number(res.retryAfter) >= 1, 'Retry-After')
    }
    t.same(statuses, [401, 401, 401, 401, 429])
  })

  t.test('a user joined on A logs in on B', async (t) => {
    const joined = await call(a.url, '/account/join', { email: 'ab@example.com', password: PASSWORD })
    t.equal(joined.status, 201)
    const login = await call(b.url, '/account/login', { email: 'ab@example.com', password: PASSWORD })
    t.equal(login.status, 200)
    t.equal((await call(b.url, '/account/mypage', undefined, { authorization: `Bearer ${String(joined.json.access)}` })).status, 200, "A's access token works on B")
  })

  t.test('a refresh token rotated on A and replayed on B revokes the family on both', async (t) => {
    const joined = await call(a.url, '/account/join', { email: 'replay@example.com', password: PASSWORD })
    const rotated = await call(a.url, '/account/token/refresh', { refresh: joined.json.refresh })
    t.equal(rotated.status, 200)
    const replay = await call(b.url, '/account/token/refresh', { refresh: joined.json.refresh })
    t.equal(replay.status, 401)
    t.equal(replay.json.code, 'TOKEN_REVOKED')
    for (const [name, server] of [['A', a], ['B', b]] as const) {
      const successor = await call(server.url, '/account/token/refresh', { refresh: rotated.json.refresh })
      t.equal(successor.status, 401, `the successor is dead on ${name}`)
    }
    const live = await sql.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [(joined.json.user as { id: string }).id])
    t.equal(live.rows[0].n, 0, 'no live token left in the family')
  })

  t.test('20 concurrent refreshes of one token over both instances: one rotation wins, the replays revoke the family', async (t) => {
    const joined = await call(a.url, '/account/join', { email: 'race@example.com', password: PASSWORD })
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await call(i % 2 === 0 ? a.url : b.url, '/account/token/refresh', { refresh: joined.json.refresh })))
    const ok = results.filter((r) => r.status === 200)
    t.equal(ok.length, 1, 'exactly one rotation wins')
    for (const r of results) if (r.status !== 200) t.equal(r.status, 401, `refused as 401 (${String(r.json.code)})`)
    const live = await sql.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [(joined.json.user as { id: string }).id])
    // No grace window: the 19 other presentations are replays of a rotated token (theft).
    t.equal(live.rows[0].n, 0, 'never two live tokens: the replays revoked the family, the winner included')
  })

  t.test('logout everywhere and a password change done on A are honoured by B', async (t) => {
    const joined = await call(a.url, '/account/join', { email: 'pw@example.com', password: PASSWORD })
    const auth = { authorization: `Bearer ${String(joined.json.access)}` }
    const changed = await call(a.url, '/account/password/change', { old_password: PASSWORD, new_password: 'another-Horse-battery-7' }, auth)
    t.equal(changed.status, 200)
    t.equal((await call(b.url, '/account/token/refresh', { refresh: joined.json.refresh })).status, 401, 'the old refresh token is refused on B')
    t.equal((await call(b.url, '/account/login', { email: 'pw@example.com', password: 'another-Horse-battery-7' })).status, 200, 'the new password works on B')
    const out = await call(a.url, '/account/logout', { all: true }, { authorization: `Bearer ${String(changed.json.access)}` })
    t.equal(out.status, 200)
    t.equal((await call(b.url, '/account/token/refresh', { refresh: changed.json.refresh })).status, 401, 'logged out everywhere: B refuses the refresh token')
  })
})

t.test('with the grace window (REFRESH_REUSE_INTERVAL=10), two instances answer replays with the one successor', async (t) => {
  const url = await testDatabase(t)
  const env = { DATABASE_URL: url, JWT_SECRET, REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix(t), REFRESH_REUSE_INTERVAL: '10', RATE_LIMIT_JOIN_MAX: '1000', LOG_LEVEL: 'warn' }
  const [a, b] = await Promise.all([startTestServer(t, env, { quiet: true }), startTestServer(t, env, { quiet: true })])
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  t.teardown(async () => { await sql.end() })
  const liveOf = async (userId: string): Promise<number> =>
    (await sql.query('SELECT count(*)::int AS n FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL', [userId])).rows[0].n as number

  t.test('rotated on A, replayed on B inside the window: the same successor, nothing minted', async (t) => {
    const joined = await call(a.url, '/account/join', { email: 'grace-ab@example.com', password: PASSWORD })
    const rotated = await call(a.url, '/account/token/refresh', { refresh: joined.json.refresh })
    const replay = await call(b.url, '/account/token/refresh', { refresh: joined.json.refresh })
    t.equal(replay.status, 200)
    t.equal(replay.json.refresh, rotated.json.refresh, 'byte for byte the successor A returned')
    t.equal(await liveOf((joined.json.user as { id: string }).id), 1, 'one live refresh token in the family')
  })

  t.test('20 concurrent refreshes of one token over both instances: all 200, one refresh token, one live row', async (t) => {
    const joined = await call(a.url, '/account/join', { email: 'grace-race@example.com', password: PASSWORD })
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await call(i % 2 === 0 ? a.url : b.url, '/account/token/refresh', { refresh: joined.json.refresh })))
    t.same(results.map((r) => r.status), Array(20).fill(200), 'every refresh answered 200')
    t.equal(new Set(results.map((r) => r.json.refresh)).size, 1, 'all with the same refresh token')
    t.equal(await liveOf((joined.json.user as { id: string }).id), 1, 'one live refresh token in the family')
  })
})
