import Fastify, { type RouteOptions } from 'fastify'
import { test } from 'tap'
import { serviceApp } from '../../src/app.js'
import { build, testConfig } from '../helpers/app.js'

/**
 * Every route the service serves is in the OpenAPI document (/openapi.json,
 * /docs), with every status its schema declares — the documented error
 * responses included — unless it is hidden on purpose (the document itself,
 * the client page's files, the reference page's assets).
 */
test('every route and each of its responses is in the OpenAPI document', async (t) => {
  const routes: RouteOptions[] = []
  const app = Fastify({ logger: false })
  app.addHook('onRoute', (route) => { routes.push(route) })
  await app.register(serviceApp, { config: testConfig(t) })
  t.teardown(() => app.close())
  await app.ready()
  const doc = app.swagger() as { paths: Record<string, Record<string, { responses?: Record<string, unknown> }>> }

  const documented = routes.filter((r) => (r.schema as { hide?: boolean } | undefined)?.hide !== true &&
    !r.url.startsWith('/docs') && r.url !== '/' && !/\.(js|css|html|png|ico|svg)$/.test(r.url))
  t.ok(documented.length >= 8, `${documented.length} routes to check`)
  for (const route of documented) {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD')
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    for (const method of methods) {
      const op = doc.paths[path]?.[method.toLowerCase()]
      t.ok(op, `${method} ${route.url} is documented`)
      const statuses = Object.keys((route.schema as { response?: Record<string, unknown> } | undefined)?.response ?? {})
      t.ok(statuses.length > 0, `${method} ${route.url} declares its responses`)
      for (const status of statuses) {
        t.ok(op?.responses?.[status], `${method} ${route.url} documents ${status}`)
      }
    }
  }
  // The contract's error shape is the documented body of the error statuses.
  const login = doc.paths['/account/login']?.post?.responses?.['401'] as { content?: Record<string, { schema?: { properties?: object } }> } | undefined
  t.hasProps(login?.content?.['application/json']?.schema?.properties ?? {}, ['statusCode', 'error', 'code', 'message'])
})

test('the account lifecycle\'s endpoints are documented with their bodies and answers', async (t) => {
  const app = await build(t)
  const doc = (await app.inject({ url: '/openapi.json' })).json()
  t.ok(doc.paths['/account/mypage'].patch.requestBody)
  t.ok(doc.paths['/account/mypage'].delete.requestBody)
  for (const path of ['/account/email/change', '/account/email/verify', '/account/email/resend', '/account/password/reset', '/account/password/reset/confirm']) {
    t.ok(doc.paths[path]?.post?.requestBody, path)
    t.ok(doc.paths[path]?.post?.responses?.['200'], `${path} 200`)
    t.ok(doc.paths[path]?.post?.responses?.['400'], `${path} 400`)
  }
})

test('GET /openapi.json documents every endpoint from the schemas', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  const doc = res.json()
  t.match(doc, { openapi: String, info: { title: 'auth-service' } })
  for (const path of ['/account/join', '/account/login', '/account/token/refresh', '/account/token/verify', '/account/logout', '/account/mypage', '/account/password/change', '/health']) {
    t.ok(doc.paths[path], path)
  }
  t.ok(doc.paths['/account/join'].post.requestBody, 'bodies are documented')
})

/** Each operation's area (docs/API.md), as /docs groups them. */
const AREAS: Record<string, Record<string, string>> = {
  '/account/login': { post: 'tokens' },
  '/account/login/mfa': { post: 'tokens' },
  '/account/mfa': { get: 'mfa' },
  '/account/mfa/totp/setup': { post: 'mfa' },
  '/account/mfa/totp/confirm': { post: 'mfa' },
  '/account/mfa/totp': { delete: 'mfa' },
  '/account/mfa/recovery-codes': { post: 'mfa' },
  '/account/token/refresh': { post: 'tokens' },
  '/account/token/verify': { post: 'tokens', get: 'gateway' },
  '/account/logout': { post: 'tokens' },
  '/account/join': { post: 'account' },
  '/account/mypage': { get: 'account', patch: 'lifecycle', delete: 'lifecycle' },
  '/account/password/change': { post: 'account' },
  '/account/email/change': { post: 'lifecycle' },
  '/account/email/verify': { post: 'lifecycle' },
  '/account/email/resend': { post: 'lifecycle' },
  '/account/password/reset': { post: 'lifecycle' },
  '/account/password/reset/confirm': { post: 'lifecycle' },
  '/account/forward-auth': { get: 'gateway' },
  '/account/token/introspect': { post: 'gateway' },
  '/.well-known/jwks.json': { get: 'gateway' },
  '/health': { get: 'operations' },
  '/ready': { get: 'operations' },
  '/account/social': { get: 'social' },
  '/account/social/providers': { get: 'social' },
  '/account/social/{name}/start': { get: 'social' },
  '/account/social/{name}/token': { post: 'social' }
}

test('operations are tagged by area (tokens, account, lifecycle, passkeys, mfa, social, gateway, operations), each with one listed tag', async (t) => {
  const app = await build(t, { INTROSPECTION_SECRET: 'i'.repeat(40) })
  const doc = (await app.inject({ url: '/openapi.json' })).json() as { tags: Array<{ name: string, description: string }>, paths: Record<string, Record<string, { tags?: string[] }>> }
  t.same(doc.tags.map((tag) => tag.name), ['tokens', 'account', 'lifecycle', 'passkeys', 'mfa', 'social', 'gateway', 'operations'], 'the areas, in this order')
  for (const tag of doc.tags) t.ok(tag.description.length > 10, `${tag.name} is described`)
  const used = new Set<string>()
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      t.equal(op.tags?.length, 1, `${method} ${path}: one tag`)
      t.ok(doc.tags.some((tag) => tag.name === op.tags?.[0]), `${method} ${path}: a listed tag, not swagger's "default"`)
      used.add(op.tags?.[0] ?? '')
    }
  }
  t.same([...used].sort(), ['account', 'gateway', 'lifecycle', 'mfa', 'operations', 'passkeys', 'social', 'tokens'], 'every area has operations')
  for (const [path, methods] of Object.entries(AREAS)) {
    for (const [method, tag] of Object.entries(methods)) t.same(doc.paths[path]?.[method]?.tags, [tag], `${method} ${path}: ${tag}`)
  }
})

test('/account/forward-auth is documented once (GET), though every method is answered', async (t) => {
  const app = await build(t)
  const doc = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { description?: string }>> }
  t.same(Object.keys(doc.paths['/account/forward-auth'] ?? {}), ['get'], 'no TRACE, QUERY, PUT… copies')
  t.match(doc.paths['/account/forward-auth']?.get?.description, /every method alike/i, 'the description says any method')
  t.same(Object.keys(doc.paths).filter((path) => path.startsWith('/account/forward-auth/')), [], 'nor the paths below it')
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'QUERY'] as const) {
    t.equal((await app.inject({ method, url: '/account/forward-auth' })).statusCode, 401, `${method} answered (401 without a token)`)
  }
})
