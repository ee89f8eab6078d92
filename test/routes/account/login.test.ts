import Database from 'better-sqlite3'
import t from 'tap'
import { build, join, login, PASSWORD, post, testConfig, uniqueEmail } from '../../helpers/app.js'

t.test('login returns the user and a token pair, and sets last_login', async (t) => {
  const app = await build(t)
  const s = await join(app, { name: 'Ana' })
  const before = Date.now()
  const res = await login(app, s.email)
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access', 'refresh', 'user'])
  t.match(body.user, { id: s.user.id, email: s.email, name: 'Ana' })
  t.ok(Date.parse(body.user.last_login) >= before - 1000, 'last_login is now')
  t.not(body.refresh, s.refresh)
  const me = await app.inject({ url: '/account/mypage', headers: { authorization: `Bearer ${body.access as string}` } })
  t.equal(me.json().user.last_login, body.user.last_login, 'last_login is stored')
})

t.test('the email is matched case-insensitively', async (t) => {
  const app = await build(t)
  await join(app, { email: 'mixed@example.com' })
  t.equal((await login(app, 'MiXeD@Example.Com')).statusCode, 200)
})

t.test('INVALID_CREDENTIALS: same answer for a wrong password and an unknown email', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const wrong = await login(app, s.email, 'not-the-password-1')
  const unknown = await login(app, 'nobody@example.com', PASSWORD)
  for (const res of [wrong, unknown]) {
    t.equal(res.statusCode, 401)
    t.match(res.json(), { statusCode: 401, error: 'Unauthorized', code: 'INVALID_CREDENTIALS' })
    t.equal(res.headers['www-authenticate'], 'Bearer', 'a bare challenge: no token was presented')
  }
  t.equal(wrong.json().message, unknown.json().message)
})

t.test('an unknown email still spends one password hash', async (t) => {
  const app = await build(t)
  let calls = 0
  const original = app.passwords.verifyDecoy
  app.passwords.verifyDecoy = async (password) => { calls++; return await original(password) }
  await login(app, 'ghost@example.com')
  t.equal(calls, 1)
})

t.test('VALIDATION_ERROR for a malformed login body', async (t) => {
  const app = await build(t)
  for (const body of [{}, { email: 'a@b.c' }, { email: 'a@b.c', password: 1 }, { email: 'a@b.c', password: 'x', remember: true }]) {
    const res = await post(app, '/account/login', body)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'VALIDATION_ERROR')
  }
})

t.test('ACCOUNT_INACTIVE for a deactivated user with the right password only', async (t) => {
  const app = await build(t)
  const s = await join(app)
  await app.store.users.setActive(String(s.user.id), false)
  const res = await login(app, s.email)
  t.equal(res.statusCode, 403)
  t.match(res.json(), { statusCode: 403, error: 'Forbidden', code: 'ACCOUNT_INACTIVE' })
  t.equal((await login(app, s.email, 'wrong-password-x1')).json().code, 'INVALID_CREDENTIALS', 'inactivity is not revealed without the password')
})

t.test('a hash made with older parameters is upgraded at the next login', async (t) => {
  const config = testConfig(t)
  const weak = { ...config, argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 } }
  const app1 = await build(t, {}, weak)
  const s = await join(app1)
  await app1.close()
  const strong = { ...config, argon2: { memoryCost: 20480, timeCost: 3, parallelism: 1 } }
  const app2 = await build(t, {}, strong)
  t.equal((await login(app2, s.email)).statusCode, 200)
  if (config.database.kind !== 'sqlite') throw new Error('sqlite expected')
  const db = new Database(config.database.path, { readonly: true })
  t.teardown(() => db.close())
  const { password_hash: hash } = db.prepare('SELECT password_hash FROM users WHERE email = ?').get(s.email) as { password_hash: string }
  t.match(hash, /^\$argon2id\$v=19\$m=20480,t=3,p=1\$/)
  t.equal((await login(app2, s.email)).statusCode, 200, 'the new hash verifies')
})

t.test('login is rate limited per client IP', async (t) => {
  const app = await build(t, { RATE_LIMIT_LOGIN_MAX: '3', RATE_LIMIT_WINDOW: '60' })
  for (let i = 0; i < 3; i++) t.equal((await login(app, uniqueEmail(), PASSWORD, '10.0.0.1')).statusCode, 401)
  const res = await login(app, uniqueEmail(), PASSWORD, '10.0.0.1')
  t.equal(res.statusCode, 429)
  t.match(res.json(), { statusCode: 429, error: 'Too Many Requests', code: 'RATE_LIMITED', message: String })
  const after = Number(res.headers['retry-after'])
  t.ok(after >= 1 && after <= 60, `Retry-After: ${after}`)
  t.equal((await login(app, uniqueEmail(), PASSWORD, '10.0.0.2')).statusCode, 401, 'another IP is not limited')
})

t.test('login is rate limited per email, across IPs and letter case', async (t) => {
  const app = await build(t, { RATE_LIMIT_LOGIN_MAX: '3', RATE_LIMIT_WINDOW: '60' })
  const s = await join(app)
  const variants = [s.email, s.email.toUpperCase(), s.email]
  for (const [i, email] of variants.entries()) t.equal((await login(app, email, 'wrong-password-x1', `10.1.0.${i}`)).statusCode, 401)
  const res = await login(app, s.email, PASSWORD, '10.1.0.99')
  t.equal(res.statusCode, 429, 'even the right password from a fresh IP waits')
  t.equal(res.json().code, 'RATE_LIMITED')
  t.ok(Number(res.headers['retry-after']) >= 1)
})

t.test('TRUST_PROXY decides whether X-Forwarded-For names the client', async (t) => {
  for (const [trust, expectLimited] of [['false', true], ['127.0.0.1', false]] as const) {
    const app = await build(t, { RATE_LIMIT_LOGIN_MAX: '1', TRUST_PROXY: trust })
    await app.inject({ method: 'POST', url: '/account/login', payload: { email: uniqueEmail(), password: PASSWORD }, headers: { 'x-forwarded-for': '203.0.113.1' } })
    const second = await app.inject({ method: 'POST', url: '/account/login', payload: { email: uniqueEmail(), password: PASSWORD }, headers: { 'x-forwarded-for': '203.0.113.2' } })
    t.equal(second.statusCode === 429, expectLimited, `TRUST_PROXY=${trust}`)
  }
})
