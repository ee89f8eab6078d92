import Database from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { buildApp } from '../../../../src/app.js'
import type { Store } from '../../../../src/db/store.js'
import { refreshTokenKey } from '../../../../src/tokens/tokens.js'
import { bearer, captureLogs, cookiesOf, decodeJwt, join, logEvents, PASSWORD, post, refresh, sqlitePath, storeToken, testConfig } from '../../../helpers/app.js'
import { testDatabase } from '../../../helpers/postgres.js'
import { storeDatabases } from '../../../helpers/store.js'

/*
 * The grace window (REFRESH_REUSE_INTERVAL): a rotated refresh token presented
 * again soon after gets the very successor its rotation returned, never a
 * second live token; anything else stays theft. Every test runs on SQLite and
 * on PostgreSQL, with a clock the test moves instead of sleeping.
 */

const JWT_SECRET = 'grace-test-secret-0123456789abcdef0123'

interface Row { id: string, family_id: string, revoked_at: number | null, revoke_reason: string | null, successor_id: string | null, successor_sealed: string | null, [column: string]: unknown }

interface Env {
  app: FastifyInstance
  logs: string[]
  /** Moves the service's clock. */
  advance: (seconds: number) => void
  /** Every column of every refresh token row of a user, read directly from the database. */
  rows: (userId: string) => Promise<Row[]>
}

type Backend = [string, (t: Test) => Promise<{ env: NodeJS.ProcessEnv, rows: (userId: string) => Promise<Row[]> }>]
const backends: Backend[] = [
  ['sqlite', async (t) => {
    const config = testConfig(t)
    const path = sqlitePath(config)
    return {
      env: { DATABASE_URL: `file:${path}` },
      rows: async (userId) => {
        const db = new Database(path, { readonly: true })
        try { return db.prepare('SELECT * FROM refresh_tokens WHERE user_id = ?').all(userId) as Row[] } finally { db.close() }
      }
    }
  }],
  ['postgres', async (t) => {
    const url = await testDatabase(t)
    const sql = new pg.Client({ connectionString: url })
    await sql.connect()
    t.teardown(async () => { await sql.end() })
    return {
      env: { DATABASE_URL: url },
      rows: async (userId) => (await sql.query('SELECT * FROM refresh_tokens WHERE user_id = $1', [userId])).rows.map((r) => ({ ...r, revoked_at: r.revoked_at === null ? null : Number(r.revoked_at) })) as Row[]
    }
  }]
]

for (const [kind, backend] of backends) {
  async function setup (t: Test, env: NodeJS.ProcessEnv = {}): Promise<Env> {
    const db = await backend(t)
    let offset = 0
    const { logs, logStream } = captureLogs()
    const config = testConfig(t, { JWT_SECRET, LOG_LEVEL: 'info', ...db.env, ...env })
    const app = await buildApp(config, { logStream, nowMs: () => Date.now() + offset * 1000 })
    t.teardown(() => app.close())
    await app.ready()
    return { app, logs, advance: (s) => { offset += s }, rows: db.rows }
  }

  t.test(`${kind}: a replay inside the window answers the same refresh token, a fresh access token and the cookies`, async (t) => {
    const { app, logs, advance } = await setup(t)
    const s = await join(app)
    const first = await refresh(app, s.refresh)
    t.equal(first.statusCode, 200)
    // Times are whole seconds: 8 s on the test's clock is 8 or 9 s on the service's.
    advance(8)
    const again = await refresh(app, s.refresh)
    t.equal(again.statusCode, 200, 'not theft: ' + again.body)
    const a = first.json()
    const b = again.json()
    t.equal(b.refresh, a.refresh, 'byte for byte the refresh token of the rotation')
    t.not(b.access, a.access, 'a fresh access token')
    t.ok(Number(decodeJwt(b.access).payload.iat) - Number(decodeJwt(a.access).payload.iat) >= 8, 'signed now, on the moved clock')
    t.equal((await app.inject({ url: '/account/mypage', headers: bearer(b.access) })).statusCode, 200, 'the access token works')
    const cookies = cookiesOf(again)
    t.equal(cookies.refresh_token, a.refresh, 'refresh cookie')
    t.equal(cookies.access_token, b.access, 'access cookie')
    t.ok(cookies.csrf_token, 'csrf cookie')
    t.equal(again.headers['cache-control'], 'no-store')
    const replays = logEvents(logs, 'refresh_grace_replay')
    t.equal(replays.length, 1, 'one log line')
    t.equal(replays[0]?.userId, s.user.id)
    t.notOk(logs.some((l) => l.includes(a.refresh) || l.includes(s.refresh) || l.includes(b.access)), 'no token in the logs')
    t.equal((await refresh(app, a.refresh)).statusCode, 200, 'the successor is the live token and rotates')
  })

  t.test(`${kind}: the window also serves a cookie-only browser refresh`, async (t) => {
    const { app } = await setup(t)
    const s = await join(app)
    const headers = { 'x-csrf-token': s.csrf }
    const first = await app.inject({ method: 'POST', url: '/account/token/refresh', headers, cookies: s.cookies })
    const second = await app.inject({ method: 'POST', url: '/account/token/refresh', headers, cookies: s.cookies })
    t.equal(first.statusCode, 200)
    t.equal(second.statusCode, 200)
    t.equal(cookiesOf(second).refresh_token, cookiesOf(first).refresh_token, 'the same refresh cookie')
  })

  t.test(`${kind}: a replay after the window is theft: TOKEN_REVOKED and the family revoked`, async (t) => {
    const { app, logs, advance } = await setup(t)
    const s = await join(app)
    const next = (await refresh(app, s.refresh)).json()
    advance(10)
    const late = await refresh(app, s.refresh)
    t.equal(late.statusCode, 401)
    t.equal(late.json().code, 'TOKEN_REVOKED')
    t.equal((await refresh(app, next.refresh)).json().code, 'TOKEN_REVOKED', 'the live token went with its family')
    t.same(logEvents(logs, 'refresh_reuse_detected').map((e) => e.userId), [s.user.id, s.user.id], 'logged as reuse')
  })

  t.test(`${kind}: REFRESH_REUSE_INTERVAL=0 is v1: an immediate replay is theft`, async (t) => {
    const { app, rows } = await setup(t, { REFRESH_REUSE_INTERVAL: '0' })
    const s = await join(app)
    const next = (await refresh(app, s.refresh)).json()
    t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED')
    t.equal((await refresh(app, next.refresh)).json().code, 'TOKEN_REVOKED', 'family revoked')
    t.ok((await rows(String(s.user.id))).every((r) => r.successor_sealed === null), 'nothing sealed when the window is off')
  })

  t.test(`${kind}: a replay of an older token of the chain is theft, even inside the window`, async (t) => {
    const { app } = await setup(t, { REFRESH_REUSE_INTERVAL: '1h' })
    const s = await join(app)
    const b = (await refresh(app, s.refresh)).json()
    const c = (await refresh(app, b.refresh)).json()
    t.equal((await refresh(app, b.refresh)).json().refresh, c.refresh, 'the newest rotated one still replays')
    const old = await refresh(app, s.refresh)
    t.equal(old.statusCode, 401)
    t.equal(old.json().code, 'TOKEN_REVOKED')
    t.equal((await refresh(app, c.refresh)).json().code, 'TOKEN_REVOKED', 'the family is revoked')
    t.equal((await refresh(app, b.refresh)).json().code, 'TOKEN_REVOKED', 'and nothing replays any more')
  })

  const ends: Array<[string, (app: FastifyInstance, s: Awaited<ReturnType<typeof join>>, live: string) => Promise<unknown>]> = [
    ['logout', async (app, _s, live) => await post(app, '/account/logout', { refresh: live })],
    ['logout everywhere', async (app, s) => await post(app, '/account/logout', { all: true }, bearer(s.access))],
    ['password change', async (app, s) => await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'a-Brand-new-secret-77' }, bearer(s.access))]
  ]
  for (const [why, end] of ends) {
    t.test(`${kind}: ${why} gives no grace, to the token it revoked nor to its rotated predecessor`, async (t) => {
      const { app } = await setup(t, { REFRESH_REUSE_INTERVAL: '1h' })
      const s = await join(app)
      const live = (await refresh(app, s.refresh)).json().refresh
      t.equal((await end(app, s, live) as { statusCode: number }).statusCode, 200)
      const revoked = await refresh(app, live)
      t.equal(revoked.statusCode, 401)
      t.equal(revoked.json().code, 'TOKEN_REVOKED', 'the revoked live token')
      t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED', 'the rotated predecessor')
    })
  }

  t.test(`${kind}: 16 concurrent refreshes of one token all answer 200 with the same refresh token; one live row`, async (t) => {
    const { app, rows } = await setup(t)
    const s = await join(app)
    const results = await Promise.all(Array.from({ length: 16 }, async () => await refresh(app, s.refresh)))
    t.same(results.map((r) => r.statusCode), results.map(() => 200), 'all 200')
    const tokens = new Set(results.map((r) => r.json().refresh as string))
    t.equal(tokens.size, 1, 'one refresh token for all')
    t.equal(new Set(results.map((r) => r.json().access as string)).size, 16, 'each an access token of its own')
    const family = await rows(String(s.user.id))
    t.equal(family.length, 2, 'the presented token and one successor: no other row')
    const live = family.filter((r) => r.revoked_at === null)
    t.equal(live.length, 1, 'exactly one live row in the family')
    t.equal(live[0]?.id, refreshTokenKey(decodeJwt([...tokens][0] ?? '').payload.jti as string), 'the one answered')
    t.equal((await refresh(app, [...tokens][0] ?? '')).statusCode, 200, 'and it rotates')
  })

  t.test(`${kind}: the database holds no token, jti or signature in clear`, async (t) => {
    const { app, rows } = await setup(t)
    const s = await join(app)
    const next = (await refresh(app, s.refresh)).json()
    const stored = JSON.stringify(await rows(String(s.user.id)))
    t.match(stored, /"revoke_reason":"rotated"/)
    for (const token of [s.refresh, next.refresh]) {
      const [, payload, signature] = token.split('.')
      const jti = decodeJwt(token).payload.jti as string
      for (const [what, secret] of [['token', token], ['payload', payload], ['signature', signature], ['jti', jti]] as const) {
        t.notOk(stored.includes(secret ?? '-'), `no ${what} in clear`)
      }
    }
    const sealed = (await rows(String(s.user.id))).find((r) => r.successor_sealed !== null)?.successor_sealed ?? ''
    t.ok(sealed.length > next.refresh.length, 'the successor is stored sealed')
    t.notOk(Buffer.from(sealed, 'base64url').toString('latin1').includes(next.refresh.slice(0, 20)), 'not merely encoded')
  })
}

/*
 * Several instances of the service share one database: the decision is the
 * database's, not the process's. Three stores (three SQLite connections to one
 * file, or three PostgreSQL pools to one database) rotate one token at once.
 */
for (const [kind, database] of storeDatabases) {
  t.test(`${kind}: 18 concurrent rotations of one token through three stores sharing the database: one rotated, 17 replayed`, async (t) => {
    const db = await database(t)
    const stores = await Promise.all([1, 2, 3].map(async () => await db.open({ synchronous: 'normal', max: 4 })))
    const [first] = stores as [Store]
    const now = Math.floor(Date.now() / 1000)
    const userId = randomUUID()
    await first.users.create({ id: userId, email: `${userId}@example.com`, passwordHash: 'x', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null })
    const familyId = randomUUID()
    const token = { id: randomUUID(), userId, familyId, expiresAt: now + 3600, createdAt: now }
    await storeToken(first, token)
    const nexts = Array.from({ length: 18 }, () => ({ ...token, id: randomUUID() }))
    const outcomes = await Promise.all(nexts.map(async (next, i) =>
      await stores[i % stores.length]!.refreshTokens.rotate(token.id, next, now, { interval: 10, sealed: `sealed-${i}` })))
    const winner = outcomes.findIndex((o) => o.kind === 'rotated')
    t.equal(outcomes.filter((o) => o.kind === 'rotated').length, 1, 'one rotation')
    t.same(outcomes.filter((o) => o.kind !== 'rotated'), Array.from({ length: 17 }, () => ({ kind: 'replayed', successorId: nexts[winner]?.id, sealed: `sealed-${winner}` })), 'the rest replay its successor')
    const stored = (await Promise.all(nexts.map(async (n) => await first.refreshTokens.byId(n.id)))).filter((r) => r !== undefined)
    t.equal(stored.length, 1, 'one successor stored')
    t.equal(stored[0]?.revokedAt, null, 'live')
  })
}
