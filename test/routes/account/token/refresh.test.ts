import t from 'tap'
import { build, decodeJwt, join, login, mypage, PASSWORD, post, refresh, testConfig } from '../../../helpers/app.js'

const verify = async (app: Parameters<typeof post>[0], token: string) => await post(app, '/account/token/verify', { token })

t.test('refresh rotates: a new pair, the old refresh token revoked', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const res = await refresh(app, s.refresh)
  t.equal(res.statusCode, 200)
  const pair = res.json()
  t.same(Object.keys(pair).sort(), ['access', 'refresh'])
  t.not(pair.refresh, s.refresh)
  t.equal(decodeJwt(pair.access).payload.sub, s.user.id)
  t.equal((await mypage(app, pair.access)).statusCode, 200)
  t.equal((await verify(app, pair.refresh)).statusCode, 200, 'the new refresh token is valid')
  const old = await verify(app, s.refresh)
  t.equal(old.statusCode, 401, 'the presented one is not valid any more')
  t.equal(old.json().code, 'TOKEN_REVOKED')
  t.equal(res.headers['cache-control'], 'no-store')
})

// Without the grace window (REFRESH_REUSE_INTERVAL=0) where a test is about v1's
// reuse detection; refresh-grace.test.ts beside this file covers the window.
const V1 = { REFRESH_REUSE_INTERVAL: '0' }

t.test('reuse of a rotated token is theft: TOKEN_REVOKED and the whole family is revoked', async (t) => {
  const app = await build(t, V1)
  const a = await join(app)
  const b = await refresh(app, a.refresh)
  const c = await refresh(app, b.json().refresh)
  t.equal(c.statusCode, 200)
  const reuse = await refresh(app, a.refresh)
  t.equal(reuse.statusCode, 401)
  t.match(reuse.json(), { code: 'TOKEN_REVOKED', error: 'Unauthorized' })
  const latest = await refresh(app, c.json().refresh)
  t.equal(latest.statusCode, 401, 'the newest descendant is revoked too')
  t.equal(latest.json().code, 'TOKEN_REVOKED')
})

t.test('family revocation leaves the user\'s other logins alone', async (t) => {
  const app = await build(t, V1)
  const first = await join(app)
  const second = (await post(app, '/account/login', { email: first.email, password: PASSWORD })).json()
  await refresh(app, first.refresh)
  await refresh(app, first.refresh) // reuse: revokes the first family
  const other = await refresh(app, second.refresh)
  t.equal(other.statusCode, 200, 'the other login still refreshes')
})

t.test('N concurrent refreshes of one token without the grace window: at most one succeeds', async (t) => {
  const app = await build(t, V1)
  const s = await join(app)
  const results = await Promise.all(Array.from({ length: 25 }, async () => await refresh(app, s.refresh)))
  const ok = results.filter((r) => r.statusCode === 200)
  t.ok(ok.length <= 1, `${ok.length} successes`)
  t.ok(results.every((r) => r.statusCode === 200 || r.json().code === 'TOKEN_REVOKED'), 'the others are TOKEN_REVOKED')
})

t.test('EMAIL_VERIFICATION=mandatory refuses the refresh of an unverified user', async (t) => {
  const config = testConfig(t)
  const before = await build(t, {}, config)
  const s = await join(before)
  await before.close()
  const app = await build(t, {}, { ...config, emailVerification: 'mandatory' })
  const res = await refresh(app, s.refresh)
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'EMAIL_NOT_VERIFIED')
  t.equal((await login(app, s.email)).json().code, 'EMAIL_NOT_VERIFIED')
})
