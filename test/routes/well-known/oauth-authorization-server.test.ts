import t from 'tap'
import { build, join } from '../../helpers/app.js'

/*
 * GET /.well-known/oauth-authorization-server (RFC 8414), by app.inject():
 * the document's exact content under each configuration, and that what it
 * announces works. test/integration/openid-client.test.ts reads it with
 * openid-client over a real socket.
 */

const INTROSPECTION_SECRET = 'introspection-secret-introspection-secret'

const metadataOf = async (app: Awaited<ReturnType<typeof build>>) => {
  const res = await app.inject({ url: '/.well-known/oauth-authorization-server' })
  return { res, body: res.json() as Record<string, unknown> }
}

t.test('HS256 without introspection: the issuer and nothing that does not exist', async (t) => {
  const app = await build(t, { PUBLIC_URL: 'https://auth.example.com/', ACCESS_TOKEN_LIFETIME: '120' })
  const { res, body } = await metadataOf(app)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json\b/)
  t.equal(res.headers['cache-control'], 'public, max-age=60', 'cached as the JWKS is')
  t.equal(res.headers['cache-control'], (await app.inject({ url: '/.well-known/jwks.json' })).headers['cache-control'])
  // No jwks_uri: under HS256 the set is empty, so it would verify nothing. No token,
  // authorization or revocation endpoint, no token_endpoint_auth_methods_supported:
  // the service has none of them. Empty response and grant types: the RFC's default
  // for an omitted grant_types_supported would claim authorization_code and implicit.
  t.same(body, { issuer: 'https://auth.example.com', response_types_supported: [], grant_types_supported: [] })
})

t.test('HS256 with introspection: the introspection endpoint and its two authentication methods, still no jwks_uri', async (t) => {
  const app = await build(t, { PUBLIC_URL: 'https://auth.example.com/', INTROSPECTION_SECRET })
  const { body } = await metadataOf(app)
  t.same(body, {
    issuer: 'https://auth.example.com',
    introspection_endpoint: 'https://auth.example.com/account/token/introspect',
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    response_types_supported: [],
    grant_types_supported: []
  })
})

for (const algorithm of ['EdDSA', 'ES256']) {
  t.test(`${algorithm}: jwks_uri, with and without introspection, and what is announced answers`, async (t) => {
    const without = await build(t, { JWT_ALGORITHM: algorithm, PUBLIC_URL: 'http://127.0.0.1:8080' })
    t.same((await metadataOf(without)).body, {
      issuer: 'http://127.0.0.1:8080',
      jwks_uri: 'http://127.0.0.1:8080/.well-known/jwks.json',
      response_types_supported: [],
      grant_types_supported: []
    })

    const app = await build(t, { JWT_ALGORITHM: algorithm, PUBLIC_URL: 'http://127.0.0.1:8080', INTROSPECTION_SECRET })
    const { body } = await metadataOf(app)
    t.same(body, {
      issuer: 'http://127.0.0.1:8080',
      jwks_uri: 'http://127.0.0.1:8080/.well-known/jwks.json',
      introspection_endpoint: 'http://127.0.0.1:8080/account/token/introspect',
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
      grant_types_supported: []
    })
    const s = await join(app)
    const jwks = await app.inject({ url: new URL(String(body.jwks_uri)).pathname })
    t.equal(jwks.statusCode, 200)
    t.equal((jwks.json() as { keys: unknown[] }).keys.length, 1, 'the set holds the signing key')
    const introspected = await app.inject({
      method: 'POST',
      url: new URL(String(body.introspection_endpoint)).pathname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${encodeURIComponent(s.access)}&client_id=rs&client_secret=${encodeURIComponent(INTROSPECTION_SECRET)}`
    })
    t.equal(introspected.statusCode, 200)
    t.match(introspected.json(), { active: true, sub: s.user.id })
  })
}

t.test('PUBLIC_URL with a path: the issuer is its origin, the endpoints are under the path where the service answers', async (t) => {
  const app = await build(t, { JWT_ALGORITHM: 'EdDSA', PUBLIC_URL: 'https://example.com/auth', INTROSPECTION_SECRET })
  const { body } = await metadataOf(app)
  t.equal(body.issuer, 'https://example.com')
  t.equal(body.jwks_uri, 'https://example.com/auth/.well-known/jwks.json')
  t.equal(body.introspection_endpoint, 'https://example.com/auth/account/token/introspect')
})
