import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { loadConfig } from '../../../src/config.js'
import { build, cookiesOf, join as joinUser, PASSWORD, post, tempDir } from '../../helpers/app.js'

const APP = 'https://app.example.com'
const preflight = (origin: string, headers = 'content-type,x-csrf-token') => ({
  method: 'OPTIONS' as const,
  url: '/account/token/refresh',
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers }
})

t.test('CORS_ORIGINS: a listed origin gets credentialed CORS, echoed (never *)', async (t) => {
  const app = await build(t, { CORS_ORIGINS: `${APP}, http://localhost:5173` })
  const pre = await app.inject(preflight(APP))
  t.equal(pre.statusCode, 204)
  t.equal(pre.headers['access-control-allow-origin'], APP)
  t.equal(pre.headers['access-control-allow-credentials'], 'true')
  t.match(pre.headers['access-control-allow-methods'], /POST/)
  t.match(String(pre.headers['access-control-allow-headers']).toLowerCase(), /x-csrf-token/)
  t.match(String(pre.headers['access-control-allow-headers']).toLowerCase(), /content-type/)

  const s = await joinUser(app)
  const login = await post(app, '/account/login', { email: s.email, password: PASSWORD }, { origin: 'http://localhost:5173' })
  t.equal(login.statusCode, 200)
  t.equal(login.headers['access-control-allow-origin'], 'http://localhost:5173')
  t.equal(login.headers['access-control-allow-credentials'], 'true')
  t.match(String(login.headers['access-control-expose-headers']), /X-CSRF-Token/, 'the CSRF header is readable cross-origin')
  t.match(String(login.headers['access-control-expose-headers']), /X-Request-Id/, 'so is the request id')
  t.match(String(pre.headers['access-control-allow-headers']).toLowerCase(), /x-request-id/, 'and a page may send its own')
  t.match(String(login.headers.vary), /Origin/)
})

t.test('CORS_ORIGINS: an origin not listed gets no CORS header', async (t) => {
  const app = await build(t, { CORS_ORIGINS: APP })
  for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'http://app.example.com', 'null']) {
    const pre = await app.inject(preflight(origin))
    t.equal(pre.headers['access-control-allow-origin'], undefined, origin)
    const get = await app.inject({ url: '/health', headers: { origin } })
    t.equal(get.headers['access-control-allow-origin'], undefined, origin)
  }
})

t.test('no CORS_ORIGINS (the default): no CORS at all, a preflight is a 404', async (t) => {
  const app = await build(t)
  const pre = await app.inject(preflight(APP))
  t.equal(pre.statusCode, 404)
  t.match(pre.json(), { code: 'NOT_FOUND' })
  t.equal(pre.headers['access-control-allow-origin'], undefined)
  const get = await app.inject({ url: '/health', headers: { origin: APP } })
  t.equal(get.statusCode, 200)
  t.equal(get.headers['access-control-allow-origin'], undefined)
})

// @fastify/cors adds an OPTIONS * route and answers preflights from an
// onRequest hook: both are answered like every other route (the contract's
// error shape, the security headers, X-Request-Id).
const contractShape = (res: LightMyRequestResponse): string[] => Object.keys(res.json())
function answersLikeAnyRoute (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.headers['x-request-id'], 'preflight-1', `${what}: X-Request-Id`)
  t.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: security headers`)
  t.ok(res.headers['content-security-policy'], `${what}: CSP`)
}
const options = (headers: Record<string, string>, payload?: string) => ({
  method: 'OPTIONS' as const, url: '/account/login', headers: { 'x-request-id': 'preflight-1', ...headers }, payload
})
// The bodies an OPTIONS request may carry: none, a type no route takes,
// malformed JSON, more than the 16 KiB limit.
const BODIES = [
  ['no body', {}, undefined],
  ['a text/plain body', { 'content-type': 'text/plain' }, 'email=a@b.c'],
  ['a malformed JSON body', { 'content-type': 'application/json' }, '{"email":'],
  ['a body over 16 KiB', { 'content-type': 'application/json' }, JSON.stringify({ email: 'x'.repeat(17 * 1024) })]
] as const

t.test('OPTIONS without CORS_ORIGINS: bodies are refused in the contract\'s shape, else 404', async (t) => {
  const app = await build(t)
  const preflightHeaders = { origin: APP, 'access-control-request-method': 'POST' }
  for (const extra of [{}, preflightHeaders]) {
    const withOrigin = 'origin' in extra ? ' (with Origin, Access-Control-Request-Method)' : ''
    const text = await app.inject(options({ ...extra, 'content-type': 'text/plain' }, 'email=a@b.c'))
    t.equal(text.statusCode, 415, `text/plain${withOrigin}`)
    t.same(text.json(), { statusCode: 415, error: 'Unsupported Media Type', code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported Media Type' }, 'UNSUPPORTED_MEDIA_TYPE')
    answersLikeAnyRoute(t, text, `text/plain${withOrigin}`)

    const malformed = await app.inject(options({ ...extra, 'content-type': 'application/json' }, '{"email":'))
    t.equal(malformed.statusCode, 400, `malformed JSON${withOrigin}`)
    t.match(malformed.json(), { code: 'VALIDATION_ERROR', details: [{ field: 'body', message: /^is not valid JSON/ }] }, 'VALIDATION_ERROR naming the body')
    t.same(contractShape(malformed), ['statusCode', 'error', 'code', 'message', 'details'], 'the contract\'s fields')
    answersLikeAnyRoute(t, malformed, `malformed JSON${withOrigin}`)

    const huge = await app.inject(options({ ...extra, 'content-type': 'application/json' }, JSON.stringify({ email: 'x'.repeat(17 * 1024) })))
    t.equal(huge.statusCode, 413, `a body over 16 KiB${withOrigin}`)
    t.match(huge.json(), { statusCode: 413, error: 'Payload Too Large', code: 'PAYLOAD_TOO_LARGE', message: String }, 'PAYLOAD_TOO_LARGE')
    t.same(contractShape(huge), ['statusCode', 'error', 'code', 'message'], 'the contract\'s fields')
    answersLikeAnyRoute(t, huge, `a body over 16 KiB${withOrigin}`)

    const none = await app.inject(options(extra))
    t.equal(none.statusCode, 404, `no body${withOrigin}`)
    t.same(none.json(), { statusCode: 404, error: 'Not Found', code: 'NOT_FOUND', message: 'Route OPTIONS /account/login not found.' }, 'NOT_FOUND')
    t.equal(none.headers['access-control-allow-origin'], undefined)
    answersLikeAnyRoute(t, none, `no body${withOrigin}`)
  }
})

t.test('CORS_ORIGINS: a preflight is a 204 with the security headers and X-Request-Id, whatever its body', async (t) => {
  const app = await build(t, { CORS_ORIGINS: APP })
  const headers = { origin: APP, 'access-control-request-method': 'POST' }
  for (const [what, extra, payload] of BODIES) {
    const res = await app.inject(options({ ...headers, ...extra }, payload))
    t.equal(res.statusCode, 204, what)
    t.equal(res.body, '', `${what}: no body`)
    t.equal(res.headers['access-control-allow-origin'], APP, what)
    answersLikeAnyRoute(t, res, what)
  }
  const other = await app.inject(options({ ...headers, origin: 'https://evil.example' }))
  t.equal(other.statusCode, 204, 'an origin not listed: a preflight without the grant')
  t.equal(other.headers['access-control-allow-origin'], undefined)
  answersLikeAnyRoute(t, other, 'an origin not listed')
})

t.test('CORS_ORIGINS: an OPTIONS request without Origin or Access-Control-Request-Method is a VALIDATION_ERROR naming what is missing', async (t) => {
  const app = await build(t, { CORS_ORIGINS: APP })
  const required = 'is required in a CORS preflight request'
  for (const [what, headers, missing] of [
    ['neither', {}, ['origin', 'access-control-request-method']],
    ['no Access-Control-Request-Method', { origin: APP }, ['access-control-request-method']],
    ['no Origin', { 'access-control-request-method': 'POST' }, ['origin']],
    ['an empty Origin', { origin: '', 'access-control-request-method': 'POST' }, ['origin']]
  ] as const) {
    for (const [bodyName, extra, payload] of BODIES) {
      const body = `, ${bodyName}`
      const res = await app.inject(options({ ...headers, ...extra }, payload))
      t.equal(res.statusCode, 400, what + body)
      t.same(res.json(), {
        statusCode: 400,
        error: 'Bad Request',
        code: 'VALIDATION_ERROR',
        message: missing.map((field) => `${field}: ${required}`).join('; '),
        details: missing.map((field) => ({ field, message: required }))
      }, `${what}${body}: the contract's shape`)
      answersLikeAnyRoute(t, res, what + body)
    }
  }
  t.equal((await app.inject(preflight(APP))).statusCode, 204, 'a preflight still passes')
})

t.test('token responses repeat the new CSRF value in X-CSRF-Token (for pages on another host)', async (t) => {
  const app = await build(t)
  const s = await joinUser(app)
  const joinRes = await app.inject({ method: 'POST', url: '/account/join', payload: { email: `x${s.email}`, password: PASSWORD } })
  const login = await post(app, '/account/login', { email: s.email, password: PASSWORD })
  const refresh = await post(app, '/account/token/refresh', { refresh: login.json().refresh })
  const cookies = cookiesOf(refresh)
  const byCookie = await app.inject({
    method: 'POST',
    url: '/account/token/refresh',
    cookies: { refresh_token: cookies.refresh_token ?? '', csrf_token: cookies.csrf_token ?? '' },
    headers: { 'x-csrf-token': String(refresh.headers['x-csrf-token']) }
  })
  t.equal(byCookie.statusCode, 200, 'the header value passes the CSRF check')
  const change = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'Fresh-password-42' }, { authorization: `Bearer ${s.access}` })
  for (const res of [joinRes, login, refresh, byCookie, change]) {
    t.ok(res.statusCode === 200 || res.statusCode === 201, res.body)
    const value = res.headers['x-csrf-token']
    t.ok(typeof value === 'string' && value.length >= 32)
    t.equal(value, cookiesOf(res).csrf_token, 'the same value as the cookie')
  }
  const logout = await post(app, '/account/logout', { refresh: change.json().refresh })
  t.equal(logout.statusCode, 200)
  t.equal(logout.headers['x-csrf-token'], undefined, 'logout issues none')
})

t.test('config: CORS_ORIGINS is a comma list of origins, empty by default', async (t) => {
  const env = { DATABASE_URL: join(tempDir(t), 'a.db') }
  t.same(loadConfig(env).corsOrigins, [])
  t.same(loadConfig({ ...env, CORS_ORIGINS: ` ${APP} ,http://localhost:5173,, ` }).corsOrigins, [APP, 'http://localhost:5173'])
  for (const bad of ['*', 'app.example.com', 'https://app.example.com/', 'https://app.example.com/path', 'ftp://x.example']) {
    t.throws(() => loadConfig({ ...env, CORS_ORIGINS: bad }), { name: 'ConfigError', variable: 'CORS_ORIGINS' }, bad)
  }
})
