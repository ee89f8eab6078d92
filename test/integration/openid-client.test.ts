import {
  allowInsecureRequests, ClientSecretBasic, customFetch, discovery, tokenIntrospection, type Configuration, type CustomFetch
} from 'openid-client'
import t from 'tap'
import { freePort } from '../../bench/lib/service.js'
import { build, join, post } from '../helpers/app.js'

/*
 * What a resource server does with openid-client 6 (the usual OAuth client of
 * Node, on oauth4webapi), unchanged: RFC 8414 discovery from the issuer URL,
 * then RFC 7662 introspection with its default client authentication (a
 * plain client secret: client_secret_post) and with ClientSecretBasic. Against
 * the app listening on 127.0.0.1: the port is chosen before the app is built,
 * since PUBLIC_URL — hence the issuer that discovery checks — must name it.
 */

const INTROSPECTION_SECRET = 'introspection-secret-introspection-secret'

interface Seen { url: string, authorization: string | undefined, body: string }

/** Records every request openid-client sends, then sends it. */
function recording (config: Configuration): Seen[] {
  const seen: Seen[] = []
  const send: CustomFetch = async (url, options) => {
    const headers = new Headers(options.headers)
    seen.push({ url, authorization: headers.get('authorization') ?? undefined, body: String(options.body ?? '') })
    return await fetch(url, options as RequestInit)
  }
  config[customFetch] = send
  return seen
}

t.test('openid-client 6: discovery by issuer URL, then introspection with client_secret_post and client_secret_basic', async (t) => {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = await build(t, { JWT_ALGORITHM: 'EdDSA', PUBLIC_URL: `${issuer}/`, INTROSPECTION_SECRET })
  await app.listen({ port, host: '127.0.0.1' })

  const s = await join(app)
  const gone = await join(app)
  t.equal((await post(app, '/account/logout', { refresh: gone.refresh })).statusCode, 200)

  const options = { algorithm: 'oauth2' as const, execute: [allowInsecureRequests] }
  const viaPost = await discovery(new URL(issuer), 'resource-server', INTROSPECTION_SECRET, undefined, options)
  const metadata = viaPost.serverMetadata()
  t.equal(metadata.issuer, issuer)
  t.equal(metadata.introspection_endpoint, `${issuer}/account/token/introspect`)
  t.equal(metadata.jwks_uri, `${issuer}/.well-known/jwks.json`)
  t.same(metadata.introspection_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post'])
  const viaBasic = await discovery(new URL(issuer), 'resource-server', undefined, ClientSecretBasic(INTROSPECTION_SECRET), options)

  for (const [method, config] of [['client_secret_post', viaPost], ['client_secret_basic', viaBasic]] as const) {
    const seen = recording(config)
    const live = await tokenIntrospection(config, s.access)
    t.match(live, { active: true, token_type: 'access', sub: s.user.id, user_id: s.user.id, email: s.email }, `${method}: a live access token`)
    t.match(await tokenIntrospection(config, s.refresh), { active: true, token_type: 'refresh' }, `${method}: a live refresh token`)
    t.same({ ...(await tokenIntrospection(config, gone.refresh)) }, { active: false }, `${method}: a revoked refresh token`)
    t.same({ ...(await tokenIntrospection(config, 'junk')) }, { active: false }, `${method}: junk`)
    // How openid-client authenticated: the body or the header, never both.
    t.equal(seen.length, 4)
    for (const request of seen) {
      t.equal(request.url, `${issuer}/account/token/introspect`)
      const form = new URLSearchParams(request.body)
      if (method === 'client_secret_post') {
        t.equal(request.authorization, undefined, 'post: no Authorization header')
        t.equal(form.get('client_id'), 'resource-server')
        t.equal(form.get('client_secret'), INTROSPECTION_SECRET)
      } else {
        t.match(request.authorization, /^Basic /, 'basic: the Authorization header')
        t.notOk(form.has('client_secret'), 'basic: no secret in the body')
      }
    }
  }

  // A wrong secret, either way, is refused (401), not answered as inactive.
  for (const config of [
    await discovery(new URL(issuer), 'resource-server', 'not-the-secret', undefined, options),
    await discovery(new URL(issuer), 'resource-server', undefined, ClientSecretBasic('not-the-secret'), options)]) {
    const refused = await tokenIntrospection(config, s.access).then(() => undefined, (err: unknown) => err)
    t.match(refused, { status: 401 })
  }
})

t.test('openid-client 6: discovery of a service without introspection (HS256) finds neither endpoint', async (t) => {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const app = await build(t, { PUBLIC_URL: `${issuer}/` })
  await app.listen({ port, host: '127.0.0.1' })
  const config = await discovery(new URL(issuer), 'resource-server', INTROSPECTION_SECRET, undefined, { algorithm: 'oauth2', execute: [allowInsecureRequests] })
  t.equal(config.serverMetadata().issuer, issuer)
  t.equal(config.serverMetadata().introspection_endpoint, undefined)
  t.equal(config.serverMetadata().jwks_uri, undefined)
  const s = await join(app)
  await t.rejects(tokenIntrospection(config, s.access), { code: 'OAUTH_MISSING_SERVER_METADATA' }, 'openid-client refuses before any request')
})
