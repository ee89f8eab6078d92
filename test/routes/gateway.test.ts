import { createLocalJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import { cli } from '../helpers/cli.js'
import { bearer, build, buildWithLogs, decodeJwt, forgeJwt, join, nowSeconds, PASSWORD, post, refresh, testConfig } from '../helpers/app.js'
import { legacySecret } from '../../src/keys/legacy-secret.js'

/*
 * Behind a gateway (issue 12): JWKS and rotation checked with an independent
 * library (jose), forward auth, introspection, readiness, metrics and load
 * shedding. The real nginx in front is test/nginx.test.ts.
 */

const INTROSPECTION_SECRET = 'introspection-secret-introspection-secret'

for (const algorithm of ['EdDSA', 'ES256', 'RS256']) {
  t.test(`${algorithm}: jose verifies our tokens against the JWKS, before and after keys rotate`, async (t) => {
    const env = { JWT_ALGORITHM: algorithm, ACCESS_TOKEN_LIFETIME: '120' }
    const config = testConfig(t, env)
    const app = await build(t, env, config)
    const jwksOf = async () => {
      const res = await app.inject({ url: '/.well-known/jwks.json' })
      t.equal(res.statusCode, 200)
      t.equal(res.headers['cache-control'], 'public, max-age=60', 'max-age: half the access lifetime, shorter than any overlap')
      return res.json() as { keys: Array<Record<string, unknown>> }
    }
    const before = await join(app)
    const kid1 = decodeJwt(before.access).header.kid
    t.match(decodeJwt(before.access).header, { alg: algorithm, kid: String(kid1) })
    const set1 = await jwksOf()
    t.equal(set1.keys.length, 1)
    for (const key of set1.keys) t.notOk('d' in key || 'p' in key, 'public parts only')
    const v1 = await jwtVerify(before.access, createLocalJWKSet(set1 as never), { algorithms: [algorithm] })
    t.equal(v1.payload.sub, before.user.id)

    const env2 = { DATABASE_URL: `file:${config.database.kind === 'sqlite' ? config.database.path : ''}`, JWT_ALGORITHM: algorithm, ACCESS_TOKEN_LIFETIME: '120' }
    const rotated = await cli(['keys', 'rotate'], env2)
    t.equal(rotated.code, 0, rotated.err)
    t.match(rotated.out, /^new signing key [\w-]+ \(/)
    t.match(rotated.out, new RegExp(`previous key ${String(kid1)} verifies until`))
    await app.keys.reload() // what the 30-second timer does
    const after = await join(app)
    const kid2 = decodeJwt(after.access).header.kid
    t.not(kid2, kid1, 'new tokens carry the new kid')
    const set2 = await jwksOf()
    t.same(set2.keys.map((k) => k.kid).sort(), [kid1, kid2].sort(), 'both keys are published during the overlap')
    const local = createLocalJWKSet(set2 as never)
    t.equal((await jwtVerify(before.access, local)).protectedHeader.kid, kid1, 'old tokens still verify')
    t.equal((await jwtVerify(after.access, local)).protectedHeader.kid, kid2, 'new ones too')
    t.equal((await app.inject({ url: '/account/mypage', headers: bearer(before.access) })).statusCode, 200, 'nobody is logged out')
    t.equal((await refresh(app, before.refresh)).statusCode, 200, 'a refresh token signed by the old key still rotates')
    const listed = await cli(['keys', 'list'], env2)
    t.match(listed.out, new RegExp(`${String(kid2)}\\s+${algorithm}\\s+created .* signing`))
    t.notMatch(listed.out, /PRIVATE/, 'no key material is printed')

    // A leaked key is withdrawn at once: even a token verified (and cached) before stops working.
    t.equal((await cli(['keys', 'revoke', String(kid2)], env2)).code, 1, 'the signing key cannot be revoked')
    const revoked = await cli(['keys', 'revoke', String(kid1)], env2)
    t.equal(revoked.code, 0, revoked.err)
    t.equal((await cli(['keys', 'revoke', String(kid1)], env2)).code, 1, 'an unknown kid')
    t.equal((await cli(['keys', 'revoke'], env2)).code, 2, 'no kid: usage')
    await app.keys.reload()
    const gone = await app.inject({ url: '/account/mypage', headers: bearer(before.access) })
    t.equal(gone.statusCode, 401, 'a token of the revoked key, verified before, is refused')
    t.equal(gone.json().code, 'TOKEN_INVALID')
    t.same((await jwksOf()).keys.map((k) => k.kid), [kid2], 'and the key left the JWKS')
    t.equal((await app.inject({ url: '/account/mypage', headers: bearer(after.access) })).statusCode, 200)
  })
}

t.test('HS256: empty JWKS, kid on every token, an explicit JWT_SECRET signs and cannot be rotated away', async (t) => {
  const secret = 'explicit-secret-explicit-secret-explicit'
  const config = testConfig(t, { JWT_SECRET: secret })
  const app = await build(t, {}, config)
  const s = await join(app)
  t.same((await app.inject({ url: '/.well-known/jwks.json' })).json(), { keys: [] })
  t.equal(decodeJwt(s.access).header.kid, app.keys.signingKid)
  // Exactly as before keys existed: anything holding JWT_SECRET (e.g. simplejwt's SIGNING_KEY) verifies.
  const { payload } = await jwtVerify(s.access, new TextEncoder().encode(secret), { algorithms: ['HS256'] })
  t.equal(payload.sub, s.user.id)
  const db = config.database.kind === 'sqlite' ? config.database.path : ''
  const res = await cli(['keys', 'rotate'], { DATABASE_URL: `file:${db}`, JWT_SECRET: secret })
  t.equal(res.code, 1)
  t.match(res.err, /^error: JWT_SECRET is set, so it signs every token/)
  const generated = await cli(['keys', 'rotate'], { DATABASE_URL: `file:${db}` })
  t.equal(generated.code, 0, 'without JWT_SECRET the service manages (and rotates) HS256 secrets')
})

t.test('forward-auth: any method, Bearer or cookie, user in headers; 401 with a Bearer challenge', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  const s = await join(app)
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const) {
    const res = await app.inject({ method, url: '/account/forward-auth', headers: bearer(s.access) })
    t.equal(res.statusCode, 200, `${method} with Bearer`)
    t.equal(res.headers['x-auth-user-id'], s.user.id)
    t.equal(res.headers['x-auth-user-email'], s.email)
    t.equal(res.headers['cache-control'], 'no-store')
  }
  // Envoy's ext_authz appends the original path to the prefix.
  const envoy = await app.inject({ method: 'DELETE', url: '/account/forward-auth/api/orders/7?x=1', headers: bearer(s.access) })
  t.equal(envoy.statusCode, 200)
  t.equal(envoy.headers['x-auth-user-id'], s.user.id)
  t.equal((await app.inject({ url: '/account/forward-auth/api/orders' })).statusCode, 401)
  // The cookie, on an unsafe method and without any CSRF header: a read that grants nothing.
  const cookie = await app.inject({ method: 'POST', url: '/account/forward-auth', cookies: { access_token: s.access } })
  t.equal(cookie.statusCode, 200)
  t.equal(cookie.headers['x-auth-user-id'], s.user.id)
  // The original request's body is never read, whatever its type or size claims.
  const withBody = await app.inject({ method: 'POST', url: '/account/forward-auth', headers: { ...bearer(s.access), 'content-type': 'text/plain' }, payload: 'x'.repeat(20000) })
  t.equal(withBody.statusCode, 200)
  const cases: Array<[string, Record<string, string>, string]> = [
    ['no token', {}, 'TOKEN_MISSING'],
    ['forged', bearer(forgeJwt({ alg: 'HS256', typ: 'JWT' }, decodeJwt(s.access).payload, 'wrong-secret-wrong-secret-wrong-secret')), 'TOKEN_INVALID'],
    ['expired', bearer(forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...decodeJwt(s.access).payload, iat: nowSeconds() - 900, exp: nowSeconds() - 600 }, legacySecret(config))), 'TOKEN_EXPIRED'],
    ['a refresh token', bearer(s.refresh), 'TOKEN_INVALID'],
    // As on every authenticated route: a Bearer header without exactly one credential is malformed.
    ['Bearer with two words', { authorization: `Bearer ${s.access} extra` }, 'TOKEN_INVALID']
  ]
  for (const [what, headers, code] of cases) {
    const res = await app.inject({ method: 'GET', url: '/account/forward-auth', headers })
    t.equal(res.statusCode, 401, what)
    t.equal(res.json().code, code, what)
    t.match(res.headers['www-authenticate'], /^Bearer/, what)
    t.notOk(res.headers['x-auth-user-id'], `${what}: no user header`)
  }
  await app.store.users.setActive(String(s.user.id), false)
  const inactive = await app.inject({ url: '/account/forward-auth', headers: bearer(s.access) })
  t.equal(inactive.statusCode, 401, 'a deactivated user')
  t.equal(inactive.json().code, 'TOKEN_INVALID')
})

t.test('introspection: 404 unless INTROSPECTION_SECRET is set', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const res = await post(app, '/account/token/introspect', { token: s.access }, { authorization: `Bearer ${INTROSPECTION_SECRET}` })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'NOT_FOUND')
})

t.test('introspection (RFC 7662): Basic or Bearer secret, form or JSON body, active or not', async (t) => {
  const app = await build(t, { INTROSPECTION_SECRET })
  const s = await join(app)
  const basic = { authorization: `Basic ${Buffer.from(`gateway:${INTROSPECTION_SECRET}`).toString('base64')}` }
  const bearerSecret = { authorization: `Bearer ${INTROSPECTION_SECRET}` }
  const form = async (body: string, headers: Record<string, string> = basic) =>
    await app.inject({ method: 'POST', url: '/account/token/introspect', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: body })

  const active = await form(`token=${encodeURIComponent(s.access)}&token_type_hint=access_token`)
  t.equal(active.statusCode, 200)
  t.equal(active.headers['cache-control'], 'no-store')
  const claims = decodeJwt(s.access).payload
  t.same(active.json(), { active: true, token_type: 'access', sub: s.user.id, user_id: s.user.id, exp: claims.exp, iat: claims.iat, jti: claims.jti, email: s.email })
  const json = await post(app, '/account/token/introspect', { token: s.refresh }, bearerSecret)
  t.match(json.json(), { active: true, token_type: 'refresh', sub: s.user.id })

  // A revoked refresh family, garbage, an expired token: all just inactive.
  await post(app, '/account/logout', { refresh: s.refresh })
  t.same((await post(app, '/account/token/introspect', { token: s.refresh }, bearerSecret)).json(), { active: false }, 'revoked family')
  t.same((await form('token=not-a-jwt')).json(), { active: false })
  t.same((await form('token=')).json(), { active: false })

  for (const [what, headers] of [['no credentials', {}], ['wrong Bearer', { authorization: 'Bearer nope' }],
    ['wrong Basic', { authorization: `Basic ${Buffer.from('gateway:nope').toString('base64')}` }],
    ['the secret as Basic user name', { authorization: `Basic ${Buffer.from(`${INTROSPECTION_SECRET}:`).toString('base64')}` }]] as const) {
    const res = await form(`token=${encodeURIComponent(s.access)}`, headers)
    t.equal(res.statusCode, 401, what)
    t.equal(res.json().code, 'INTROSPECTION_UNAUTHORIZED', what)
    t.equal(res.headers['www-authenticate'], 'Bearer', what)
  }
  const twice = await form('token=a&token=b')
  t.equal(twice.statusCode, 400)
  t.equal(twice.json().code, 'VALIDATION_ERROR')
  const missing = await form('token_type_hint=access_token')
  t.equal(missing.statusCode, 400)
  t.match(missing.json().details, [{ field: 'token' }])
  // The form parser exists for this route only.
  const elsewhere = await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `email=${s.email}&password=${PASSWORD}` })
  t.equal(elsewhere.statusCode, 415)
})

t.test('/ready: 200 while the database answers, 503 with the reason and Retry-After when not', async (t) => {
  const app = await build(t)
  const ok = await app.inject({ url: '/ready' })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { status: 'ready' })
  app.store.ping = async () => { throw Object.assign(new Error('gone'), { code: 'SQLITE_IOERR' }) }
  const down = await app.inject({ url: '/ready' })
  t.equal(down.statusCode, 503)
  t.same(down.json(), { statusCode: 503, error: 'Service Unavailable', code: 'NOT_READY', message: 'Not ready: the database does not answer (SQLITE_IOERR)' })
  t.equal(down.headers['retry-after'], '5')
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, '/health stays the liveness check')
})

t.test('/metrics: off by default; with METRICS=true the counters follow what happened', async (t) => {
  const off = await build(t)
  t.equal((await off.inject({ url: '/metrics' })).statusCode, 404)

  const app = await build(t, { METRICS: 'true', RATE_LIMIT_LOGIN_MAX: '3' })
  const s = await join(app)
  await post(app, '/account/login', { email: s.email, password: PASSWORD })
  await post(app, '/account/login', { email: s.email, password: 'wrong-password-1' })
  const r1 = await refresh(app, s.refresh)
  t.equal(r1.statusCode, 200)
  t.equal((await refresh(app, s.refresh)).json().refresh, r1.json().refresh, 'a replay inside the grace window')
  t.equal((await refresh(app, r1.json().refresh)).statusCode, 200, 'the chain moves on')
  t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED', 'reuse: an older token of the chain')
  for (let i = 0; i < 3; i++) await post(app, '/account/login', { email: s.email, password: 'wrong-password-1' })
  await app.inject({ url: '/account/mypage', headers: bearer(s.access) })
  const res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body
  const value = (line: RegExp): number => Number(line.exec(text)?.[1])
  t.equal(value(/^auth_logins_total\{result="success"\} (\d+)$/m), 1)
  t.equal(value(/^auth_logins_total\{result="failure"\} (\d+)$/m), 2, 'two refused by the password, the rest by the limit')
  t.equal(value(/^auth_token_refreshes_total (\d+)$/m), 3, 'two rotations and one grace replay')
  t.equal(value(/^auth_refresh_reuse_detections_total (\d+)$/m), 1)
  t.equal(value(/^auth_refresh_grace_replays_total (\d+)$/m), 1)
  t.ok(value(/^auth_rate_limited_total\{route="\/account\/login"\} (\d+)$/m) >= 1)
  t.match(text, /^auth_argon2_queue_length 0$/m)
  t.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/account\/mypage",status_code="200"\} 1$/m)
  t.match(text, /^nodejs_eventloop_lag_seconds /m)
  t.match(text, /^process_cpu_user_seconds_total /m)
  t.notMatch(text, new RegExp(s.access.slice(-20)), 'no token in any label')
})

t.test('METRICS_PORT: /metrics on its own listener only', async (t) => {
  const { app, logs } = await buildWithLogs(t, { METRICS: 'true', METRICS_PORT: '0', LOG_LEVEL: 'info' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404, 'not on the public port')
  const line = logs.map((l) => JSON.parse(l) as { msg?: string, port?: number }).find((l) => l.msg === 'metrics listening')
  t.ok(line?.port)
  const res = await fetch(`http://127.0.0.1:${String(line?.port)}/metrics`)
  t.equal(res.status, 200)
  t.match(await res.text(), /auth_logins_total/)
  t.equal((await fetch(`http://127.0.0.1:${String(line?.port)}/other`)).status, 404)
})

t.test('load shedding: a full hash queue refuses logins with 503 + Retry-After, other routes keep working', async (t) => {
  const app = await build(t, { PRESSURE_MAX_HASH_QUEUE: '1' })
  const s = await join(app)
  // More logins at once than one hashing slot plus one waiting place.
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await post(app, '/account/login', { email: s.email, password: PASSWORD })))
  const shed = answers.filter((r) => r.statusCode === 503)
  t.ok(shed.length > 0, `some logins shed (${shed.length} of 8)`)
  t.ok(answers.some((r) => r.statusCode === 200), 'the others are served')
  for (const r of shed) {
    t.match(r.json(), { statusCode: 503, error: 'Service Unavailable', code: 'SERVICE_UNAVAILABLE' })
    t.equal(r.headers['retry-after'], '2')
  }
  // An unknown email is shed the same way: overload reveals no account.
  const unknownEmails = await Promise.all(Array.from({ length: 8 }, async (_, i) => await post(app, '/account/login', { email: `nobody${i}@example.com`, password: PASSWORD })))
  t.ok(unknownEmails.every((r) => r.statusCode === 401 || r.statusCode === 503))
  const shedUnknown = unknownEmails.filter((r) => r.statusCode === 503)
  t.ok(shedUnknown.length > 0, `unknown emails are shed too (${shedUnknown.length} of 8): they wait for the same hashing slot`)
  for (const r of shedUnknown) t.equal(r.headers['retry-after'], '2')
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(s.access) })).statusCode, 200)
})

t.test('load shedding: an event loop lagging past PRESSURE_MAX_EVENT_LOOP_DELAY gets 503 + Retry-After (not /health)', async (t) => {
  const app = await build(t, { PRESSURE_MAX_EVENT_LOOP_DELAY: '50' })
  // Block the loop well past the threshold, then let under-pressure sample it.
  const until = Date.now() + 600
  while (Date.now() < until) { /* busy */ }
  let res = await app.inject({ url: '/ready' })
  for (let i = 0; i < 40 && res.statusCode !== 503; i++) {
    const block = Date.now() + 300
    while (Date.now() < block) { /* busy */ }
    await new Promise((resolve) => setTimeout(resolve, 50))
    res = await app.inject({ url: '/ready' })
  }
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'SERVICE_UNAVAILABLE', message: 'The service is overloaded; try again shortly.' })
  t.equal(res.headers['retry-after'], '2')
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'liveness is never shed')
})

t.test('PostgreSQL: two instances on one database share the keys; a rotation on one reaches the other', async (t) => {
  const { testDatabase } = await import('../helpers/postgres.js')
  const url = await testDatabase(t)
  // JWT_SECRET given so that nothing is written to ./data (it does not sign under ES256).
  const env = { DATABASE_URL: url, JWT_ALGORITHM: 'ES256', JWT_SECRET: 'p'.repeat(40) }
  const [a, b] = await Promise.all([build(t, env), build(t, env)])
  t.equal(a.keys.signingKid, b.keys.signingKid, 'one key for both')
  const s = await join(a)
  t.equal((await b.inject({ url: '/account/forward-auth', headers: bearer(s.access) })).headers['x-auth-user-id'], s.user.id, 'b accepts what a signed')
  const rotated = await cli(['keys', 'rotate'], env)
  t.equal(rotated.code, 0, rotated.err)
  const newKid = /^new signing key ([\w-]+) \(ES256\)$/m.exec(rotated.out)?.[1]
  await a.keys.reload()
  const s2 = await join(a)
  t.equal(decodeJwt(s2.access).header.kid, newKid, 'the key keys rotate made (on PostgreSQL) signs')
  t.equal((await b.inject({ url: '/account/forward-auth', headers: bearer(s2.access) })).statusCode, 200, 'b picks up the new kid at once')
  t.equal((await b.inject({ url: '/account/forward-auth', headers: bearer(s.access) })).statusCode, 200, 'and still accepts the old one')
  const set = createLocalJWKSet((await b.inject({ url: '/.well-known/jwks.json' })).json() as never)
  t.equal((await jwtVerify(s2.access, set)).payload.sub, s2.user.id)
  t.equal((await b.inject({ url: '/ready' })).statusCode, 200)
})
