import Fastify from 'fastify'
import t from 'tap'
import { buildApp, serviceApp } from '../../../src/app.js'
import { build, join, PASSWORD, post, testConfig } from '../../helpers/app.js'

const errorShape = { statusCode: Number, error: String, code: String, message: String }

t.test('NOT_FOUND for an unknown route or method', async (t) => {
  const app = await build(t)
  for (const [method, url] of [['GET', '/nope'], ['DELETE', '/account/login'], ['GET', '/account/login']] as const) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 404)
    t.match(res.json(), { ...errorShape, statusCode: 404, error: 'Not Found', code: 'NOT_FOUND' })
  }
})

t.test('UNSUPPORTED_MEDIA_TYPE for a body that is not JSON', async (t) => {
  const app = await build(t)
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
    const res = await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': type }, payload: 'email=a@b.c&password=x' })
    t.equal(res.statusCode, 415, type)
    t.match(res.json(), { ...errorShape, statusCode: 415, error: 'Unsupported Media Type', code: 'UNSUPPORTED_MEDIA_TYPE' })
  }
})

t.test('PAYLOAD_TOO_LARGE over 16 KiB', async (t) => {
  const app = await build(t)
  const res = await post(app, '/account/join', { email: 'a@example.com', password: PASSWORD, name: 'x'.repeat(17 * 1024) })
  t.equal(res.statusCode, 413)
  t.match(res.json(), { ...errorShape, statusCode: 413, code: 'PAYLOAD_TOO_LARGE' })
  const fits = await post(app, '/account/join', { email: 'a@example.com', password: PASSWORD, name: 'x'.repeat(15 * 1024) })
  t.equal(fits.json().code, 'VALIDATION_ERROR', 'under the limit it reaches validation')
})

t.test('VALIDATION_ERROR for malformed JSON, empty bodies and prototype pollution', async (t) => {
  const app = await build(t)
  const bodies = ['{"email":', '', 'null', '[]', '"text"', '{"email":"a@b.c","password":"x","__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}']
  for (const payload of bodies) {
    const res = await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': 'application/json' }, payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.json(), { ...errorShape, code: 'VALIDATION_ERROR' }, JSON.stringify(payload))
  }
  t.equal(({} as Record<string, unknown>).admin, undefined, 'no prototype was polluted')
})

t.test('an unparseable body: VALIDATION_ERROR with one detail naming the body and what was wrong', async (t) => {
  const app = await build(t)
  const cases: Array<[string, string, RegExp]> = [
    ['truncated', '{"email":"a@b.c","password":"sec', /^is not valid JSON: unterminated string in JSON at position \d+$/],
    ['single quotes', "{'email':'a@b.c'}", /^is not valid JSON: expected property name or '}' in JSON at position 1$/],
    ['a trailing comma', '{"email":"a@b.c",}', /^is not valid JSON: expected double-quoted property name in JSON at position 17$/],
    ['not JSON at all', 'hunter2-secret', /^is not valid JSON: unexpected token 'h'$/],
    ['empty', '', /^is empty, but Content-Type says application\/json/],
    ['only spaces', '   ', /^is empty, but Content-Type says application\/json/],
    ['a __proto__ member', '{"email":"a@b.c","__proto__":{"admin":true}}', /^must not contain a "__proto__" member .*prototype pollution/],
    ['a constructor.prototype member', '{"constructor":{"prototype":{"admin":true}}}', /^must not contain a "__proto__" member or a "constructor" member with a "prototype"/]
  ]
  for (const [what, payload, message] of cases) {
    for (const url of ['/account/login', '/account/join', '/account/token/refresh']) {
      const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json; charset=utf-8' }, payload })
      t.equal(res.statusCode, 400, `${what} at ${url}`)
      const json = res.json()
      t.equal(json.code, 'VALIDATION_ERROR')
      t.equal(json.details?.length, 1, `${what}: one detail`)
      t.equal(json.details?.[0]?.field, 'body', `${what}: names the body`)
      t.match(json.details?.[0]?.message, message, `${what}: says what was wrong`)
      t.equal(json.message, `body: ${String(json.details?.[0]?.message)}`)
      t.notMatch(res.body, /hunter2|sec"/, `${what}: the body is not echoed`)
    }
  }
  const ok = await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': 'application/json' }, payload: '{"email":"a@b.c","password":"x"}' })
  t.equal(ok.json().code, 'INVALID_CREDENTIALS', 'valid JSON still parses')
})

// Why the error handler maps no FST_ERR_CTP_EMPTY_JSON_BODY or
// FST_ERR_CTP_INVALID_JSON_BODY: those come from Fastify's own JSON parser,
// which plugins/app/body.ts replaces before any route exists. Every route that
// reads a body must get that parser (a route in a context made before it would
// keep Fastify's).
t.test('every route that reads a body parses JSON with the service\'s parser, never Fastify\'s', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const routes: Array<[string, string]> = []
  app.addHook('onRoute', (route) => { for (const method of [route.method].flat()) routes.push([method, route.url]) })
  const fastifyCodes: string[] = []
  app.addHook('onError', async (_request, _reply, err) => { if (err.code?.startsWith('FST_ERR_CTP')) fastifyCodes.push(err.code) })
  await app.register(serviceApp, { config: testConfig(t, { INTROSPECTION_SECRET: 'introspection-secret-introspection-secret' }) })
  await app.ready()
  let parsed = 0
  for (const [method, url] of routes) {
    if (method === 'GET' || method === 'HEAD') continue
    for (const [payload, message] of [['', /^body: is empty, but Content-Type says application\/json/], ['{', /^body: is not valid JSON/]] as const) {
      const res = await app.inject({ method: method as 'POST', url: url === '*' ? '/account/login' : url.replace(/\*$/, 'x'), headers: { 'content-type': 'application/json' }, payload })
      // Some routes answer before the body is read (forward-auth, an absent token); the others parse it.
      if (res.statusCode !== 400) continue
      parsed++
      t.match(res.json(), { code: 'VALIDATION_ERROR', message }, `${method} ${url} ${JSON.stringify(payload)}: the service's parser`)
    }
  }
  t.ok(parsed >= 2 * 10, `bodies were parsed (${parsed} answers)`)
  t.same(fastifyCodes, [], 'no error from Fastify\'s own JSON parser')
})

// A route gets the error handler in force when it is added, and onRequest hooks
// run in the order they were added: a plugin (a package's own, such as
// @fastify/cors's OPTIONS * route) registered before the errors plugin would
// answer its errors in Fastify's default shape. src/app.ts registers the errors
// plugin, the request id and the security headers first; this holds every
// route to it, whichever plugin adds it.
t.test('every route answers its errors through the service\'s error handler, with the request id and security headers', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const routes: Array<[string, string]> = []
  app.addHook('onRoute', (route) => { for (const method of [route.method].flat()) routes.push([method, route.url]) })
  // A failure raised by every route's last onRequest hook, after the hooks
  // that run for every request (request id, security headers, CORS…); the
  // error handler the route was given answers it.
  app.addHook('onRoute', (route) => {
    route.onRequest = [route.onRequest ?? []].flat().concat((request, _reply, done) => {
      done(request.headers['x-test-failure'] === undefined ? undefined : new Error('secret internal detail'))
    })
  })
  await app.register(serviceApp, { config: testConfig(t, { METRICS: 'true' }) })
  await app.ready()
  t.ok(routes.some(([method, url]) => method === 'OPTIONS' && url === '*'), '@fastify/cors\'s OPTIONS * route is among them')
  t.ok(routes.some(([, url]) => url.startsWith('/docs')), 'and @fastify/swagger-ui\'s')
  t.ok(routes.length >= 40, `${routes.length} routes`)
  for (const [method, url] of routes) {
    const res = await app.inject({ method: method as 'GET', url: url.replace(/^\*$/, '/account/login').replace(/\*$/, 'x'), headers: { 'x-test-failure': '1' } })
    const what = `${method} ${url}`
    t.match(res.headers['x-request-id'], /^req-[0-9a-z]+$/, `${what}: X-Request-Id`)
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: security headers`)
    if (res.statusCode === 500) {
      if (method !== 'HEAD') t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', code: 'INTERNAL_ERROR', message: 'Internal server error.' }, `${what}: the service's error handler`)
    } else {
      // Refused by an earlier hook: no token.
      t.equal(res.statusCode, 401, `${what}: ${res.body}`)
      t.match(res.headers['www-authenticate'], /^Bearer/, `${what}: the service's error handler`)
      if (method !== 'HEAD') t.same(Object.keys(res.json()), ['statusCode', 'error', 'code', 'message'], `${what}: the contract's shape`)
    }
  }
})

t.test('every VALIDATION_ERROR carries a non-empty details array', async (t) => {
  const app = await build(t)
  const responses = [
    await app.inject({ url: '/account/%E0%A4%A' }),
    await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': 'application/json' }, payload: '{"email":' }),
    await app.inject({ method: 'POST', url: '/account/login', payload: { email: 1 } }),
    await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': 'application/json' }, payload: 'null' }),
    await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': 'application/json', 'content-length': '10' }, payload: '{"email":"a@b.c","password":"x"}' })
  ]
  for (const res of responses) {
    t.equal(res.json().code, 'VALIDATION_ERROR', res.body)
    t.ok(Array.isArray(res.json().details) && res.json().details.length > 0, `details: ${res.body}`)
    for (const d of res.json().details) t.match(d, { field: String, message: String })
  }
  t.same(responses[0]?.json().details, [{ field: 'url', message: 'is not a valid URL (malformed %-encoding)' }])
  t.same(responses[4]?.json().details, [{ field: 'content-length', message: 'does not match the size of the body received' }])
})

t.test('401 responses carry WWW-Authenticate: Bearer', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/account/mypage', headers: { authorization: 'Bearer x.y.z' } })
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], /^Bearer/)
})

t.test('an unexpected failure is a 500 in the common shape, without internals', async (t) => {
  const app = await buildApp(testConfig(t))
  t.teardown(() => app.close())
  app.get('/boom', async () => { throw new Error('secret internal detail at /srv/app.js:42') })
  await app.ready()
  const res = await app.inject({ url: '/boom' })
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, error: 'Internal Server Error', code: 'INTERNAL_ERROR', message: 'Internal server error.' })
  t.notMatch(res.body, /secret internal detail|stack|\.js:/)
})

t.test('security headers on every response', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const badUrl = await app.inject({ url: '/account/%E0%A4%A' }) // bad %-encoding: answered before any hook runs
  t.equal(badUrl.statusCode, 400)
  t.equal(badUrl.json().code, 'VALIDATION_ERROR')
  for (const res of [await app.inject({ url: '/health' }), await app.inject({ url: '/account/mypage', headers: { authorization: `Bearer ${s.access}` } }), await app.inject({ url: '/nope' }), badUrl]) {
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.ok(res.headers['strict-transport-security'], 'HSTS')
    t.ok(res.headers['content-security-policy'], 'CSP')
    t.equal(res.headers['x-powered-by'], undefined)
  }
})
