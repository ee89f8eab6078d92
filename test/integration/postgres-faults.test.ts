import pg from 'pg'
import t, { type Test } from 'tap'
import { build, join, PASSWORD, post } from '../helpers/app.js'
import { pgRelay, testDatabase, type PgRelay } from '../helpers/postgres.js'

/*
 * PostgreSQL faults between the service and the database, made by a TCP relay
 * of the test's own (the shared PostgreSQL is never touched): the link cut
 * (sockets destroyed, new ones refused) or frozen (bytes stop flowing, nothing
 * closes, as with a dead network path). Requests get 503 + Retry-After, never
 * a hang or a 500; the pool reconnects once the link is back; no write that
 * was acknowledged is lost.
 */

const JWT_SECRET = 'pg-faults-secret-0123456789abcdefghij'

async function viaRelay (t: Test): Promise<{ app: Awaited<ReturnType<typeof build>>, relay: PgRelay, sql: pg.Client }> {
  const direct = await testDatabase(t)
  const relay = await pgRelay(t, direct)
  const app = await build(t, { DATABASE_URL: relay.url, JWT_SECRET })
  const sql = new pg.Client({ connectionString: direct })
  await sql.connect()
  t.teardown(async () => { await sql.end() })
  return { app, relay, sql }
}

function assert503 (t: Test, res: Awaited<ReturnType<typeof post>>, what: string): void {
  t.equal(res.statusCode, 503, `${what}: ${res.body}`)
  t.match(res.json(), { statusCode: 503, error: 'Service Unavailable', code: 'SERVICE_UNAVAILABLE' }, what)
  t.equal(res.headers['retry-after'], '5', `${what}: Retry-After`)
  t.notMatch(res.body, /timeout|ECONN|at .*\.ts|SELECT|password_hash/i, `${what}: no internals`)
}

t.test('a frozen network path: login, join and refresh answer 503 + Retry-After (statement timeout), then recover', async (t) => {
  const { app, relay } = await viaRelay(t)
  const s = await join(app)
  relay.freeze()
  const [login, joined, refreshed, ready] = await Promise.all([
    post(app, '/account/login', { email: s.email, password: PASSWORD }),
    post(app, '/account/join', { email: 'frozen@example.com', password: PASSWORD }),
    post(app, '/account/token/refresh', { refresh: s.refresh }),
    app.inject({ url: '/ready' })
  ])
  assert503(t, login, 'login')
  assert503(t, joined, 'join')
  assert503(t, refreshed, 'refresh')
  t.equal(ready.statusCode, 503, `ready: ${ready.body}`)
  t.match(ready.json(), { code: 'NOT_READY', message: /^Not ready: the database does not answer \((SERVICE_UNAVAILABLE|08...|57P0[1-3]|E[A-Z]+)\)$/ }, 'ready: the reason, by the driver\'s code')

  await relay.restore()
  t.equal((await post(app, '/account/login', { email: s.email, password: PASSWORD })).statusCode, 200, 'the pool reconnects')
  t.equal((await post(app, '/account/token/refresh', { refresh: s.refresh })).statusCode, 200, 'the refresh that got a 503 changed nothing: the token still rotates')
})

t.test('the link cut in the middle of 30 joins: every join answered 201 is stored, none is a 500', async (t) => {
  const { app, relay, sql } = await viaRelay(t)
  await join(app) // the pool is warm
  const emails = Array.from({ length: 30 }, (_, i) => `cut-${i}@example.com`)
  let cutting: Promise<void> | undefined
  let answered = 0
  const results = await Promise.all(emails.map(async (email) => {
    const res = await post(app, '/account/join', { email, password: PASSWORD })
    // Cut once a third have been answered: the rest are hashing, queued or mid-transaction.
    if (++answered === 10) cutting = relay.cut()
    return { email, res }
  }))
  await cutting
  const acknowledged = results.filter((r) => r.res.statusCode === 201).map((r) => r.email)
  for (const { email, res } of results) {
    t.ok(res.statusCode === 201 || res.statusCode === 503, `${email}: ${res.statusCode}`)
    if (res.statusCode === 503) t.equal(res.headers['retry-after'], '5')
  }
  await relay.restore()
  const stored = (await sql.query('SELECT email FROM users WHERE email = ANY($1)', [emails])).rows.map((r: { email: string }) => r.email)
  for (const email of acknowledged) t.ok(stored.includes(email), `${email} was acknowledged and is stored`)
  t.ok(acknowledged.length > 0, `${acknowledged.length} of 30 acknowledged (those answered before the cut), ${stored.length} stored`)
  const again = await post(app, '/account/join', { email: 'after-cut@example.com', password: PASSWORD })
  t.equal(again.statusCode, 201, 'joins work again')
})
