import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../../src/config.js'
import { publicDir } from '../../../src/paths.js'
import { build, tempDir } from '../../helpers/app.js'

t.test('GET / serves the client page under the default (self-only) CSP', async (t) => {
  const app = await build(t)
  const page = await app.inject({ url: '/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.headers['content-security-policy'], /script-src 'self'(;|$)/)
  t.match(page.body, /<script type="module" src="app.js"><\/script>/)
  for (const [url, type] of [['/app.js', /javascript/], ['/style.css', /^text\/css/], ['/index.html', /^text\/html/]] as const) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.match(res.headers['content-type'], type, url)
  }
  const head = await app.inject({ method: 'HEAD', url: '/' })
  t.equal(head.statusCode, 200)
})

t.test('the page needs no CSP exception: no inline script, style or handler', async (t) => {
  const html = readFileSync(join(publicDir, 'index.html'), 'utf8')
  t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src')
  t.notMatch(html, /<style\b/i, 'no <style> element')
  t.notMatch(html, /\sstyle=/i, 'no style attribute')
  t.notMatch(html, /\son[a-z]+=/i, 'no inline event handler')
  const js = readFileSync(join(publicDir, 'app.js'), 'utf8')
  t.notMatch(js, /\binnerHTML\b|\beval\(|new Function/, 'no HTML injection or eval')
  t.notMatch(js, /localStorage\.setItem\([^)]*(access|refresh)/, 'never stores a token')
  t.same(readdirSync(publicDir).sort(), ['app.js', 'index.html', 'style.css'], 'plain HTML, one module, one stylesheet')
})

t.test('only the client\'s files are served: other paths are the contract\'s 404', async (t) => {
  const app = await build(t)
  for (const url of ['/nope.js', '/../package.json', '/%2e%2e/package.json', '/public/app.js', '/.env']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 404, url)
    t.match(res.json(), { statusCode: 404, code: 'NOT_FOUND' }, url)
  }
})

t.test('SERVE_CLIENT=false: no page, GET / is a 404 NOT_FOUND', async (t) => {
  const app = await build(t, { SERVE_CLIENT: 'false' })
  for (const url of ['/', '/app.js', '/index.html']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 404, url)
    t.same(res.json(), { statusCode: 404, error: 'Not Found', code: 'NOT_FOUND', message: `Route GET ${url} not found.` }, url)
  }
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'the API is unaffected')
})

t.test('config: SERVE_CLIENT is a boolean, on by default', async (t) => {
  const env = { DATABASE_URL: join(tempDir(t), 'a.db') }
  t.equal(loadConfig(env).serveClient, true)
  t.equal(loadConfig({ ...env, SERVE_CLIENT: 'false' }).serveClient, false)
  t.equal(loadConfig({ ...env, SERVE_CLIENT: '0' }).serveClient, false)
  t.throws(() => loadConfig({ ...env, SERVE_CLIENT: 'maybe' }), { name: 'ConfigError', variable: 'SERVE_CLIENT' })
})

t.test('CSP: upgrade-insecure-requests only when cookies are Secure (https), else the page could not load over http', async (t) => {
  const secure = await build(t, { COOKIE_SECURE: 'true' })
  const plain = await build(t, { COOKIE_SECURE: 'false' })
  const secureCsp = String((await secure.inject({ url: '/' })).headers['content-security-policy'])
  const plainCsp = String((await plain.inject({ url: '/' })).headers['content-security-policy'])
  t.match(secureCsp, /upgrade-insecure-requests/)
  t.notMatch(plainCsp, /upgrade-insecure-requests/)
  for (const csp of [secureCsp, plainCsp]) {
    t.match(csp, /default-src 'self'/)
    t.match(csp, /script-src 'self'(;|$)/)
    t.notMatch(csp, /unsafe-eval|script-src[^;]*unsafe-inline/)
  }
})
