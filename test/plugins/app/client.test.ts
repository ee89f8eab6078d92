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
  for (const [url, type] of [['/app.js', /javascript/], ['/sessions.js', /javascript/], ['/style.css', /^text\/css/], ['/index.html', /^text\/html/]] as const) {
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
  for (const module of ['app.js', 'sessions.js']) {
    const js = readFileSync(join(publicDir, module), 'utf8')
    t.notMatch(js, /\binnerHTML\b|\beval\(|new Function/, `${module}: no HTML injection or eval`)
    t.notMatch(js, /localStorage\.setItem\([^)]*(access|refresh)/, `${module}: never stores a token`)
  }
  t.same(readdirSync(publicDir).sort(), ['app.js', 'index.html', 'sessions.js', 'style.css'], 'plain HTML, two modules (app.js imports sessions.js), one stylesheet')
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

t.test('CSP: upgrade-insecure-requests only when PUBLIC_URL is https, else the page could not load over http', async (t) => {
  const csp = async (env: NodeJS.ProcessEnv): Promise<string> => String((await (await build(t, env)).inject({ url: '/' })).headers['content-security-policy'])
  const https = await csp({ PUBLIC_URL: 'https://auth.example.com/', COOKIE_SECURE: 'true' })
  // Issue 24: a plain-http staging host with the default COOKIE_SECURE=true
  // had its app.js and style.css rewritten to https, and the page never started.
  const staging = await csp({ PUBLIC_URL: 'http://staging.example.test/', COOKIE_SECURE: 'true' })
  const plain = await csp({ COOKIE_SECURE: 'false' })
  const byDefault = await csp({ COOKIE_SECURE: 'true' })
  t.match(https, /upgrade-insecure-requests/)
  t.notMatch(staging, /upgrade-insecure-requests/, 'http PUBLIC_URL with Secure cookies: no upgrade')
  t.notMatch(plain, /upgrade-insecure-requests/)
  t.notMatch(byDefault, /upgrade-insecure-requests/, 'the default PUBLIC_URL is http://HOST:PORT/')
  for (const value of [https, staging, plain, byDefault]) {
    t.match(value, /default-src 'self'/)
    t.match(value, /script-src 'self'(;|$)/)
    t.notMatch(value, /unsafe-eval|script-src[^;]*unsafe-inline/)
  }
})

t.test('the loading view says the script did not start, rather than "Checking your session…" forever', async (t) => {
  const html = readFileSync(join(publicDir, 'index.html'), 'utf8')
  const css = readFileSync(join(publicDir, 'style.css'), 'utf8')
  t.match(html, /<div id="loading">[\s\S]*Checking your session…[\s\S]*<p class="error stalled" role="alert">This page's script \(app\.js\) has not started/)
  // Hidden by the stylesheet for a few seconds only: without style.css it shows at once.
  t.match(css, /#loading \.stalled \{ visibility: hidden; animation: stalled 0s \d+s forwards; \}/)
})
