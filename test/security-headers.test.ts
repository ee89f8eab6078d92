import t from 'tap'
import { API_PATHS } from '../src/security-headers.js'
import { bearer, build, join, post } from './helpers/app.js'

/*
 * Two sets of security headers (src/security-headers.ts): the JSON API's six
 * (a CSP that loads and frames nothing, HSTS, nosniff, no framing, no
 * referrer, same-origin resources) and helmet's whole set on the pages.
 */

const API_SET = ['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'cross-origin-resource-policy']
const PAGE_ONLY = ['x-xss-protection', 'x-download-options', 'x-dns-prefetch-control', 'x-permitted-cross-domain-policies', 'origin-agent-cluster', 'cross-origin-opener-policy']

t.test('JSON answers, successes and errors alike: the API set, nothing page-only', async (t) => {
  const app = await build(t, { METRICS: 'true' })
  const s = await join(app)
  const answers = {
    health: await app.inject({ url: '/health' }),
    ready: await app.inject({ url: '/ready' }),
    openapi: await app.inject({ url: '/openapi.json' }),
    jwks: await app.inject({ url: '/.well-known/jwks.json' }),
    metrics: await app.inject({ url: '/metrics' }),
    mypage: await app.inject({ url: '/account/mypage', headers: bearer(s.access) }),
    'mypage 401': await app.inject({ url: '/account/mypage' }),
    refresh: await post(app, '/account/token/refresh', { refresh: s.refresh }),
    'login 400': await post(app, '/account/login', { email: 1 })
  }
  for (const [what, res] of Object.entries(answers)) {
    t.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'", `${what}: nothing may load or frame it`)
    for (const name of API_SET) t.ok(res.headers[name], `${what}: ${name}`)
    for (const name of PAGE_ONLY) t.notOk(res.headers[name], `${what}: no ${name}`)
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.equal(res.headers['x-content-type-options'], 'nosniff')
  }
})

t.test('the pages (client page, its files, /docs) and answers without a route: helmet\'s whole set', async (t) => {
  const app = await build(t)
  for (const url of ['/', '/app.js', '/style.css', '/docs', '/no/such/page']) {
    const res = await app.inject({ url })
    t.match(res.headers['content-security-policy'], /script-src 'self'/, `${url}: the page CSP`)
    for (const name of [...API_SET, ...PAGE_ONLY]) t.ok(res.headers[name], `${url}: ${name}`)
  }
})

t.test('the set is chosen by the request\'s path: the API\'s prefixes, nothing that merely starts like them', async (t) => {
  for (const url of ['/account/login', '/account', '/account/forward-auth', '/account/forward-auth/*', '/health', '/ready', '/openapi.json', '/.well-known/jwks.json', '/metrics']) t.ok(API_PATHS.test(url), `${url}: API`)
  for (const url of ['/health?probe=1', '/account?x', '/account/mypage?tab=2', '/metrics?name[]=x']) t.ok(API_PATHS.test(url), `${url}: API, whatever the query`)
  for (const url of ['/', '/app.js', '/index.html', '/docs', '/docs/static/index.html', '/accounting', '/healthz', '/metrics.html']) t.notOk(API_PATHS.test(url), `${url}: page`)
})
