import t from 'tap'
import { bearer, build, decodeJwt, forgeJwt, join, nowSeconds, testConfig } from '../../helpers/app.js'
import { legacySecret } from '../../../src/keys/legacy-secret.js'

t.test('forward-auth: any method, Bearer or cookie, user in headers; 401 with a Bearer challenge', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  const s = await join(app)
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'QUERY'] as const) {
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
