import t from 'tap'
import { build, buildWithLogs, cookiesOf, join, PASSWORD, post, uniqueEmail } from '../../helpers/app.js'

type Inject = Awaited<ReturnType<typeof build>>

const byName = (res: Awaited<ReturnType<Inject['inject']>>) => Object.fromEntries(res.cookies.map((c) => [c.name, c]))

t.test('token responses set the three cookies with the contract\'s flags', async (t) => {
  const app = await build(t, { COOKIE_SECURE: 'true', COOKIE_SAMESITE: 'strict', ACCESS_TOKEN_LIFETIME: '120', REFRESH_TOKEN_LIFETIME: '3600' })
  const res = await post(app, '/account/join', { email: uniqueEmail(), password: PASSWORD })
  const body = res.json()
  const c = byName(res)
  t.match(c.access_token, { value: body.access, httpOnly: true, path: '/', sameSite: 'Strict', secure: true, maxAge: 120 })
  t.match(c.refresh_token, { value: body.refresh, httpOnly: true, path: '/account', sameSite: 'Strict', secure: true, maxAge: 3600 })
  t.match(c.csrf_token, { path: '/', sameSite: 'Strict', secure: true })
  t.notOk(c.csrf_token?.httpOnly, 'csrf_token is readable by scripts')
  t.ok((c.csrf_token?.value.length ?? 0) >= 32, 'a random csrf value')
  t.equal(res.headers['cache-control'], 'no-store')
})

t.test('COOKIE_SECURE=false and the default SameSite=Lax', async (t) => {
  const app = await build(t, { COOKIE_SECURE: 'false' })
  const res = await post(app, '/account/join', { email: uniqueEmail(), password: PASSWORD })
  for (const cookie of Object.values(byName(res))) {
    t.notOk(cookie.secure, `${cookie.name} not Secure`)
    t.equal(cookie.sameSite, 'Lax')
  }
})

t.test('every token-issuing response sets them: login, refresh, password change', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const login = await post(app, '/account/login', { email: s.email, password: PASSWORD })
  const refresh = await post(app, '/account/token/refresh', { refresh: s.refresh })
  const change = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'Fresh-password-42' }, { authorization: `Bearer ${s.access}` })
  for (const res of [login, refresh, change]) {
    t.same(Object.keys(cookiesOf(res)).sort(), ['access_token', 'csrf_token', 'refresh_token'])
    t.equal(cookiesOf(res).access_token, res.json().access)
  }
  t.not(cookiesOf(login).csrf_token, s.csrf, 'a new csrf value each time')
})

t.test('mypage by cookie (GET needs no CSRF header)', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const res = await app.inject({ url: '/account/mypage', cookies: { access_token: s.access } })
  t.equal(res.statusCode, 200)
  t.equal(res.json().user.email, s.email)
})

t.test('a Bearer header wins over the cookie', async (t) => {
  const app = await build(t)
  const a = await join(app)
  const b = await join(app)
  const res = await app.inject({ url: '/account/mypage', headers: { authorization: `Bearer ${b.access}` }, cookies: { access_token: a.access } })
  t.equal(res.json().user.email, b.email)
})

t.test('refresh by cookie: needs X-CSRF-Token equal to the csrf_token cookie', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const cookies = { refresh_token: s.refresh, csrf_token: s.csrf }
  for (const headers of [{}, { 'x-csrf-token': 'wrong' }, { 'x-csrf-token': '' }, { 'x-csrf-token': s.csrf.slice(1) }]) {
    const res = await app.inject({ method: 'POST', url: '/account/token/refresh', cookies, headers })
    t.equal(res.statusCode, 403)
    t.match(res.json(), { statusCode: 403, error: 'Forbidden', code: 'CSRF_FAILED' })
  }
  const noCsrfCookie = await app.inject({ method: 'POST', url: '/account/token/refresh', cookies: { refresh_token: s.refresh }, headers: { 'x-csrf-token': s.csrf } })
  t.equal(noCsrfCookie.json().code, 'CSRF_FAILED', 'the header alone is not enough')
  const ok = await app.inject({ method: 'POST', url: '/account/token/refresh', cookies, headers: { 'x-csrf-token': s.csrf } })
  t.equal(ok.statusCode, 200, 'no body at all, cookie + header')
  t.equal(cookiesOf(ok).refresh_token, ok.json().refresh)
})

t.test('a refresh token in the body needs no CSRF token, even with cookies present', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const res = await app.inject({ method: 'POST', url: '/account/token/refresh', payload: { refresh: s.refresh }, cookies: { refresh_token: 'stale', csrf_token: s.csrf } })
  t.equal(res.statusCode, 200)
})

t.test('logout by cookie: CSRF checked, then family revoked and cookies cleared', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const cookies = { refresh_token: s.refresh, csrf_token: s.csrf, access_token: s.access }
  const forged = await app.inject({ method: 'POST', url: '/account/logout', cookies })
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 'CSRF_FAILED')
  t.equal((await post(app, '/account/token/verify', { token: s.refresh })).statusCode, 200, 'a refused logout revokes nothing')
  const res = await app.inject({ method: 'POST', url: '/account/logout', cookies, headers: { 'x-csrf-token': s.csrf } })
  t.equal(res.statusCode, 200)
  t.equal((await post(app, '/account/token/verify', { token: s.refresh })).json().code, 'TOKEN_REVOKED')
})

t.test('logout all by cookie needs the CSRF header', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const cookies = { access_token: s.access, csrf_token: s.csrf }
  const forged = await app.inject({ method: 'POST', url: '/account/logout', payload: { all: true }, cookies })
  t.equal(forged.json().code, 'CSRF_FAILED')
  const ok = await app.inject({ method: 'POST', url: '/account/logout', payload: { all: true }, cookies, headers: { 'x-csrf-token': s.csrf } })
  t.equal(ok.statusCode, 200)
  t.equal((await post(app, '/account/token/refresh', { refresh: s.refresh })).json().code, 'TOKEN_REVOKED')
})

t.test('password change by cookie needs the CSRF header; by Bearer it does not', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const body = { old_password: PASSWORD, new_password: 'Fresh-password-42' }
  const forged = await app.inject({ method: 'POST', url: '/account/password/change', payload: body, cookies: { access_token: s.access, csrf_token: s.csrf } })
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 'CSRF_FAILED')
  t.equal((await post(app, '/account/login', { email: s.email, password: PASSWORD })).statusCode, 200, 'the password did not change')
  const ok = await app.inject({ method: 'POST', url: '/account/password/change', payload: body, cookies: { access_token: s.access, csrf_token: s.csrf }, headers: { 'x-csrf-token': s.csrf } })
  t.equal(ok.statusCode, 200)
})

t.test('start: one warning when PUBLIC_URL is plain http on a host other than loopback while cookies are Secure', async (t) => {
  const warningsOf = (logs: string[]) => logs.map((l) => JSON.parse(l) as { level: number, event?: string, msg: string, publicUrl?: string, cookieSecure?: boolean })
    .filter((l) => l.event === 'secure_cookies_over_http')
  const { logs } = await buildWithLogs(t, { PUBLIC_URL: 'http://staging.example.test/', COOKIE_SECURE: 'true' })
  const warnings = warningsOf(logs)
  t.equal(warnings.length, 1, 'said once')
  t.match(warnings[0], { level: 40, publicUrl: 'http://staging.example.test/', cookieSecure: true })
  t.match(warnings[0]?.msg, /PUBLIC_URL is http:\/\/staging\.example\.test\/ .*COOKIE_SECURE=true/, 'the line names both variables')
  t.match(warnings[0]?.msg, /COOKIE_SECURE=false/, 'and what to do')

  const quiet: NodeJS.ProcessEnv[] = [
    { PUBLIC_URL: 'https://auth.example.com/', COOKIE_SECURE: 'true' },
    { PUBLIC_URL: 'http://staging.example.test/', COOKIE_SECURE: 'false' },
    { COOKIE_SECURE: 'true' }, // the default PUBLIC_URL, http://127.0.0.1:PORT/
    { PUBLIC_URL: 'http://localhost:3000/', COOKIE_SECURE: 'true' },
    { PUBLIC_URL: 'http://auth.localhost/', COOKIE_SECURE: 'true' },
    { PUBLIC_URL: 'http://[::1]:3000/', COOKIE_SECURE: 'true' },
    { PUBLIC_URL: 'http://127.0.0.2:3000/', COOKIE_SECURE: 'true' }
  ]
  for (const env of quiet) {
    const { logs } = await buildWithLogs(t, env)
    t.same(warningsOf(logs), [], `no warning: ${JSON.stringify(env)}`)
  }
})
