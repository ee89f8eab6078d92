import t from 'tap'
import { bearer, build, join, mypage, nextTurn, PASSWORD, testConfig } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'
import { REDIS_TEST_URL, redisPrefix } from '../helpers/redis.js'
import { startTestServer } from '../helpers/server.js'

/*
 * Ending a session on one instance refuses its access token on another at
 * once (docs/API.md, "Sessions"): two service processes on one PostgreSQL
 * database and one Redis (the denylist kept fresh by NOTIFY), and two apps on
 * one SQLite file (by the trigger's version, read once per turn).
 */

const JWT_SECRET = 'sessions-cluster-secret-0123456789abcdef'
const INTROSPECTION_SECRET = 'sessions-cluster-introspection-0123456789'

const sidOf = (token: string): string => (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string }).sid

async function call (base: string, path: string, init: { method?: string, body?: unknown, headers?: Record<string, string> } = {}): Promise<{ status: number, json: Record<string, unknown> }> {
  const res = await fetch(base + path, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
  })
  return { status: res.status, json: await res.json() as Record<string, unknown> }
}

t.test('PostgreSQL + Redis: a session ended on A is refused on B at once', async (t) => {
  const url = await testDatabase(t)
  const env = { DATABASE_URL: url, JWT_SECRET, INTROSPECTION_SECRET, REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix(t), RATE_LIMIT_JOIN_MAX: '1000', RATE_LIMIT_LOGIN_MAX: '1000' }
  const [a, b] = await Promise.all([startTestServer(t, env, { quiet: true }), startTestServer(t, env, { quiet: true })])

  const joined = await call(a.url, '/account/join', { body: { email: 'cluster-sessions@example.com', password: PASSWORD } })
  t.equal(joined.status, 201)
  const phone = await call(b.url, '/account/login', { body: { email: 'cluster-sessions@example.com', password: PASSWORD } })
  t.equal(phone.status, 200)
  const phoneAccess = String(phone.json.access)
  const onA = bearer(String(joined.json.access))
  const onPhone = bearer(phoneAccess)
  t.equal((await call(b.url, '/account/mypage', { headers: onPhone })).status, 200, 'B serves the phone')

  const listed = await call(a.url, '/account/sessions', { headers: onA })
  t.same((listed.json.sessions as Array<{ id: string }>).map((s) => s.id), [sidOf(phoneAccess), sidOf(String(joined.json.access))], 'A lists the login made on B')

  const ended = await call(a.url, `/account/sessions/${sidOf(phoneAccess)}`, { method: 'DELETE', headers: onA })
  t.equal(ended.status, 200)
  const refused = await call(b.url, '/account/mypage', { headers: onPhone })
  t.equal(refused.status, 401, 'B refuses it right after A answered')
  t.equal(refused.json.code, 'TOKEN_REVOKED')
  t.equal((await call(b.url, '/account/forward-auth', { headers: onPhone })).status, 401, 'forward-auth on B')
  t.same((await call(b.url, '/account/token/introspect', { body: { token: phoneAccess }, headers: bearer(INTROSPECTION_SECRET) })).json, { active: false }, 'introspection on B')
  t.equal((await call(b.url, '/account/token/refresh', { body: { refresh: phone.json.refresh } })).json.code, 'TOKEN_REVOKED', 'its refresh token too')
  t.equal((await call(b.url, '/account/mypage', { headers: onA })).status, 200, 'the other session lives on')

  // A logout on B refuses the logged-out session's access token on A.
  t.equal((await call(b.url, '/account/logout', { body: { refresh: joined.json.refresh } })).status, 200)
  t.equal((await call(a.url, '/account/mypage', { headers: onA })).json.code, 'TOKEN_REVOKED', 'logged out on B: refused on A')
})

t.test('SQLite: two apps on one file; an ending on one is refused by the other at its next request', async (t) => {
  const config = testConfig(t)
  const a = await build(t, {}, config)
  const b = await build(t, {}, config)
  const s = await join(a)
  const other = (await b.inject({ method: 'POST', url: '/account/login', payload: { email: s.email, password: PASSWORD } })).json()
  t.equal((await mypage(b, other.access)).statusCode, 200)
  t.equal((await a.inject({ method: 'DELETE', url: `/account/sessions/${sidOf(other.access)}`, headers: bearer(s.access) })).statusCode, 200)
  // In one process both apps share the event loop: B's next turn is its next request.
  await nextTurn()
  t.equal((await mypage(b, other.access)).json().code, 'TOKEN_REVOKED')
})
