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
