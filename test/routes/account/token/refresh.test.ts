import t from 'tap'
import { bearer, build, decodeJwt, join, login, PASSWORD, post, refresh, testConfig } from '../../../helpers/app.js'

const mypage = async (app: Parameters<typeof post>[0], access: string) => await app.inject({ url: '/account/mypage', headers: bearer(access) })
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
// reuse detection; test/refresh-grace.test.ts covers the window.
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

t.test('logout revokes the login (family) and clears cookies; idempotent', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const rotated = (await refresh(app, s.refresh)).json()
  const res = await post(app, '/account/logout', { refresh: rotated.refresh })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { detail: 'Successfully logged out.' })
  const cleared = Object.fromEntries(res.cookies.map((c) => [c.name, c]))
  for (const name of ['access_token', 'refresh_token', 'csrf_token']) {
    t.equal(cleared[name]?.maxAge, 0, `${name} Max-Age=0`)
    t.equal(cleared[name]?.value, '', `${name} emptied`)
  }
  t.equal(cleared.refresh_token?.path, '/account')
  t.equal((await refresh(app, rotated.refresh)).json().code, 'TOKEN_REVOKED')
  const again = await post(app, '/account/logout', { refresh: rotated.refresh })
  t.equal(again.statusCode, 200, 'a second logout with the same token is fine')
  const nothing = await app.inject({ method: 'POST', url: '/account/logout' })
  t.equal(nothing.statusCode, 200, 'no body, no cookie: still 200')
})

t.test('logout with a malformed or forged token is refused', async (t) => {
  const app = await build(t)
  const res = await post(app, '/account/logout', { refresh: 'garbage' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'TOKEN_INVALID')
})

t.test('logout {"all":true} revokes every refresh token of the user', async (t) => {
  const app = await build(t)
  const a = await join(app)
  const b = (await post(app, '/account/login', { email: a.email, password: PASSWORD })).json()
  const other = await join(app)
  const res = await post(app, '/account/logout', { all: true }, bearer(a.access))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { detail: 'Successfully logged out.' })
  t.equal((await refresh(app, a.refresh)).json().code, 'TOKEN_REVOKED')
  t.equal((await refresh(app, b.refresh)).json().code, 'TOKEN_REVOKED')
  t.equal((await refresh(app, other.refresh)).statusCode, 200, 'other users are untouched')
})

t.test('logout {"all":true} needs a valid access token', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const missing = await post(app, '/account/logout', { all: true })
  t.equal(missing.statusCode, 401)
  t.equal(missing.json().code, 'TOKEN_MISSING')
  const wrong = await post(app, '/account/logout', { all: true }, bearer(s.refresh))
  t.equal(wrong.json().code, 'TOKEN_INVALID')
  t.equal((await refresh(app, s.refresh)).statusCode, 200, 'nothing was revoked')
})

t.test('logout: VALIDATION_ERROR for a bad body', async (t) => {
  const app = await build(t)
  for (const body of [{ all: 'yes' }, { refresh: 3 }, { everything: true }]) {
    const res = await post(app, '/account/logout', body)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'VALIDATION_ERROR')
  }
})

t.test('password change: revokes every refresh token, returns a working pair', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const second = (await post(app, '/account/login', { email: s.email, password: PASSWORD })).json()
  const res = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'a-Brand-new-secret-77' }, bearer(s.access))
  t.equal(res.statusCode, 200)
  const pair = res.json()
  t.same(Object.keys(pair).sort(), ['access', 'refresh'])
  t.same(res.cookies.map((c) => c.name).sort(), ['access_token', 'csrf_token', 'refresh_token'], 'fresh cookies')
  t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED')
  t.equal((await refresh(app, second.refresh)).json().code, 'TOKEN_REVOKED')
  t.equal((await mypage(app, pair.access)).statusCode, 200)
  t.equal((await refresh(app, pair.refresh)).statusCode, 200, 'the new login refreshes')
  t.equal((await post(app, '/account/login', { email: s.email, password: PASSWORD })).json().code, 'INVALID_CREDENTIALS')
  t.equal((await post(app, '/account/login', { email: s.email, password: 'a-Brand-new-secret-77' })).statusCode, 200)
})

t.test('password change: INVALID_PASSWORD, WEAK_PASSWORD, TOKEN_MISSING, VALIDATION_ERROR', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const wrongOld = await post(app, '/account/password/change', { old_password: 'not-it-at-all-1', new_password: 'a-Brand-new-secret-77' }, bearer(s.access))
  t.equal(wrongOld.statusCode, 400)
  t.match(wrongOld.json(), { code: 'INVALID_PASSWORD', error: 'Bad Request' })
  for (const weak of ['short', '1234567890', 'iloveyou1']) {
    const res = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: weak }, bearer(s.access))
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'WEAK_PASSWORD', weak)
  }
  const similar = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: s.email.split('@')[0] }, bearer(s.access))
  t.equal(similar.json().code, 'WEAK_PASSWORD', 'too close to the email')
  const anon = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'a-Brand-new-secret-77' })
  t.equal(anon.statusCode, 401)
  t.equal(anon.json().code, 'TOKEN_MISSING')
  const bad = await post(app, '/account/password/change', { old_password: PASSWORD }, bearer(s.access))
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'VALIDATION_ERROR')
  t.equal((await refresh(app, s.refresh)).statusCode, 200, 'failed changes revoke nothing')
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
