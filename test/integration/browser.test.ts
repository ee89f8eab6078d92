/*
 * The cookie flow of API.md in a real browser: Debian's headless Chromium
 * driven by playwright-core, against the service listening on a free port with
 * 2-second access tokens, and the client page it serves at `/`.
 *
 * Origins (cookies are scoped by host, not port; CORS by origin):
 *   http://localhost:API    the service and its own page (same origin)
 *   http://localhost:LISTED the same page served by another server, API set to
 *                           http://localhost:API — same site, other origin,
 *                           listed in CORS_ORIGINS
 *   http://localhost:OTHER  the same, not listed
 *   http://app.example.test:APP  a page on another host of the same site, against
 *                           a second instance at http://auth.example.test:API2
 *                           listing it: it cannot read the API's cookies and
 *                           takes the CSRF value from the X-CSRF-Token header.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import type { Browser, BrowserContext, Page, Request, Response } from 'playwright-core'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { projectRoot, publicDir } from '../../src/paths.js'
import { greetingFor, isPath, launchChromium, logIn, visible } from '../helpers/browser.js'
import { join as joinByApi, PASSWORD, testConfig, uniqueEmail } from '../helpers/app.js'
import { freePort } from '../../bench/lib/service.js'

const ACCESS_LIFETIME_MS = 2000
const ARTIFACTS = join(projectRoot, 'test-artifacts')

/** A second web server: the client page, its API pointed at `api()`, as another origin would host it. */
async function clientHost (t: Test, api: () => string): Promise<{ port: number, server: Server }> {
  const files: Record<string, [string, string]> = {
    '/app.js': ['text/javascript; charset=utf-8', readFileSync(join(publicDir, 'app.js'), 'utf8')],
    '/sessions.js': ['text/javascript; charset=utf-8', readFileSync(join(publicDir, 'sessions.js'), 'utf8')],
    '/mfa.js': ['text/javascript; charset=utf-8', readFileSync(join(publicDir, 'mfa.js'), 'utf8')],
    '/social.js': ['text/javascript; charset=utf-8', readFileSync(join(publicDir, 'social.js'), 'utf8')],
    '/style.css': ['text/css; charset=utf-8', readFileSync(join(publicDir, 'style.css'), 'utf8')]
  }
  const html = readFileSync(join(publicDir, 'index.html'), 'utf8')
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const [type, body] = path === '/'
      ? ['text/html; charset=utf-8', html.replace('<meta name="auth-api" content="">', `<meta name="auth-api" content="${api()}">`)]
      : files[path] ?? ['text/plain', '']
    res.writeHead(body === '' ? 404 : 200, {
      'content-type': type,
      // As strict as the service's own page, plus the API it talks to.
      'content-security-policy': `default-src 'self'; connect-src 'self' ${api()}; img-src 'self' data:; script-src 'self'; style-src 'self'`
    })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.address() as AddressInfo).port, server }
}

/** The service, listening on a free port; `seen` records every request it receives (method, path, Origin). */
async function service (t: Test, env: NodeJS.ProcessEnv): Promise<{ app: FastifyInstance, origin: string, seen: string[] }> {
  const app = await buildApp(testConfig(t, { ACCESS_TOKEN_LIFETIME: '2', REFRESH_TOKEN_LIFETIME: '120', LOG_LEVEL: 'silent', ...env }))
  const seen: string[] = []
  // On the raw server: CORS answers preflights before any later Fastify hook runs.
  app.server.on('request', (req: IncomingMessage) => { seen.push(`${req.method ?? '?'} ${req.url ?? '?'} ${req.headers.origin ?? '-'}`) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, origin: `http://localhost:${(app.server.address() as AddressInfo).port}`, seen }
}

/** Network and console watch of one page: refresh calls, when tokens were last issued, CSP reports, script errors. */
interface Watch { page: Page, context: BrowserContext, refreshes: Request[], issuedAt: number, problems: string[] }

async function open (browser: Browser, url: string, contextOptions: Parameters<Browser['newContext']>[0] = {}): Promise<Watch> {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 }, ...contextOptions })
  const page = await context.newPage()
  const watch: Watch = { page, context, refreshes: [], issuedAt: 0, problems: [] }
  page.on('request', (req) => { if (new URL(req.url()).pathname === '/account/token/refresh') watch.refreshes.push(req) })
  page.on('response', (res) => {
    if (res.ok() && /^\/account\/(join|login|token\/refresh)$/.test(new URL(res.url()).pathname)) watch.issuedAt = Date.now()
  })
  page.on('console', (msg) => { if (/Content Security Policy|Refused to/i.test(msg.text())) watch.problems.push(msg.text()) })
  page.on('pageerror', (err) => watch.problems.push(`page error: ${err.message}`))
  await page.goto(url)
  return watch
}

async function fillJoin (page: Page, fields: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'gender') await page.selectOption(`#join-form [name="${name}"]`, value)
    else await page.fill(`#join-form [name="${name}"]`, value)
  }
}

/** Waits until an access token issued at `issuedAt` (ms) has expired, with its cookie. */
async function accessExpired (issuedAt: number): Promise<void> {
  await sleep(Math.max(0, issuedAt + ACCESS_LIFETIME_MS + 600 - Date.now()))
}

const cookieNamed = async (context: BrowserContext, name: string) => (await context.cookies()).find((c) => c.name === name)

// Two hosts of one site for the "other origin, same site" case; nothing leaves the machine.
const browser = await launchChromium(t, ['--host-resolver-rules=MAP *.example.test 127.0.0.1'])
if (browser !== undefined) {
  // The hosts of other origins learn the API's address once it listens.
  let apiOrigin = ''
  const listed = await clientHost(t, () => apiOrigin)
  const unlisted = await clientHost(t, () => apiOrigin)
  const listedOrigin = `http://localhost:${listed.port}`
  const { app, origin, seen } = await service(t, { CORS_ORIGINS: `${listedOrigin}, http://localhost:1` })
  apiOrigin = origin

  const email = uniqueEmail()
  let expiredAccessToken = ''

  t.test('join shows the greeting and the profile; the tokens stay out of reach of scripts', async (t) => {
    const { page, context, problems } = await open(browser, `${origin}/`)
    await page.waitForSelector(visible('signed-out'))
    await fillJoin(page, { email, password: PASSWORD, name: 'Ana', gender: 'female', date_of_birth: '1990-04-01', phone_number: '+82 10-1234-5678' })
    const [joined] = await Promise.all([page.waitForResponse(isPath('/account/join', 'POST')), page.click('#join-form button[type="submit"]')])
    t.equal(joined.status(), 201)
    await page.waitForSelector(visible('signed-in'))
    t.equal(await page.textContent('#greeting'), greetingFor(email))
    for (const [field, value] of Object.entries({ email, name: 'Ana', gender: 'female', date_of_birth: '1990-04-01', phone_number: '+82 10-1234-5678' })) {
      t.equal(await page.textContent(`#profile dd[data-field="${field}"]`), value, field)
    }

    const cookies = Object.fromEntries((await context.cookies()).map((c) => [c.name, c]))
    t.match(cookies.access_token, { httpOnly: true, path: '/', sameSite: 'Lax' })
    t.match(cookies.refresh_token, { httpOnly: true, path: '/account', sameSite: 'Lax' })
    t.match(cookies.csrf_token, { httpOnly: false, path: '/' })
    const scriptView = await page.evaluate(() => ({
      cookie: document.cookie,
      storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })
    }))
    t.match(scriptView.cookie, /(^|; )csrf_token=[\w-]{20,}/, 'document.cookie has csrf_token')
    t.notMatch(scriptView.cookie, /access_token|refresh_token/, 'but neither token cookie')
    for (const name of ['access_token', 'refresh_token']) {
      const value = cookies[name]?.value ?? ''
      t.ok(value.length > 20, `${name} is set`)
      t.notOk(scriptView.cookie.includes(value) || scriptView.storage.includes(value), `${name} value not visible to scripts nor stored`)
    }
    t.notMatch(scriptView.storage, /eyJ/, 'no JWT in web storage')
    expiredAccessToken = cookies.access_token?.value ?? ''

    // The greeting is Korean: the page names a Korean face for each platform,
    // and where the system has one (fontconfig says so) its Hangul is drawn with it.
    const family = await page.evaluate(() => getComputedStyle(document.querySelector('#greeting')!).fontFamily)
    for (const face of ['"Noto Sans CJK KR"', '"Apple SD Gothic Neo"', '"Malgun Gothic"']) t.ok(family.includes(face), `the font stack names ${face}`)
    t.equal(await page.getAttribute('#greeting', 'lang'), 'ko')
    const cdp = await context.newCDPSession(page)
    await cdp.send('DOM.enable')
    await cdp.send('CSS.enable')
    const { root } = await cdp.send('DOM.getDocument')
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: '#greeting' })
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId })
    const hangul = [...greetingFor(email)].filter((c) => /\p{Script=Hangul}/u.test(c)).length
    const koreanFaces = spawnSync('fc-list', [':lang=ko', 'family'], { encoding: 'utf8' }).stdout.trim()
    if (koreanFaces !== '') {
      t.ok(fonts.some((f) => /CJK|KR|Gothic|Nanum|Source Han/i.test(f.familyName) && f.glyphCount >= hangul),
        `the ${hangul} Hangul characters are drawn with a Korean face (${JSON.stringify(fonts)}; installed: ${koreanFaces.split('\n')[0] ?? ''})`)
    } else {
      t.ok(fonts.length > 0, 'no Korean face on this system: the greeting is drawn with the fallbacks')
    }

    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, 'browser-logged-in.png'), fullPage: true })
    t.same(problems, [], 'no CSP violation or script error')
    await context.close()
  })

  t.test('reload keeps the session; an expired access token is refreshed once, then the action succeeds', async (t) => {
    const watch = await open(browser, `${origin}/`)
    const { page, context, refreshes, problems } = watch
    const login = await logIn(page, email)
    t.equal(login.status(), 200)
    await page.waitForSelector(visible('signed-in'))
    t.equal(await page.textContent('#greeting'), greetingFor(email))
    await page.reload()
    await page.waitForSelector(visible('signed-in'))
    t.equal(await page.textContent('#greeting'), greetingFor(email), 'still signed in after a reload')

    await accessExpired(watch.issuedAt)
    refreshes.length = 0
    const statuses: number[] = []
    page.on('response', (res) => { if (isPath('/account/mypage')(res)) statuses.push(res.status()) })
    const [refreshed] = await Promise.all([
      page.waitForResponse(isPath('/account/token/refresh', 'POST')),
      page.click('#reload-button')
    ])
    await page.waitForResponse((res) => isPath('/account/mypage')(res) && res.status() === 200)
    t.equal(refreshed.status(), 200)
    t.equal(refreshes.length, 1, 'one refresh request')
    t.same(statuses, [401, 200], 'mypage refused once, then answered after the refresh')
    const csrfSent = refreshes[0]?.headers()['x-csrf-token']
    t.ok(csrfSent !== undefined && csrfSent.length > 20, 'the refresh carried X-CSRF-Token')
    t.equal(await page.textContent('#greeting'), greetingFor(email))
    t.equal(await page.isHidden('#signed-in .error'), true, 'no error shown')
    t.same(problems, [])
    await context.close()
  })

  t.test('concurrent requests that all hit an expired token (TOKEN_EXPIRED) share one refresh', async (t) => {
    const { page, context, refreshes } = await open(browser, `${origin}/`)
    await logIn(page, email)
    await page.waitForSelector(visible('signed-in'))
    // The first session's access token expired long ago: the browser sends it,
    // and the service answers TOKEN_EXPIRED (not TOKEN_MISSING).
    const apiUrl = new URL(origin)
    await context.addCookies([{ name: 'access_token', value: expiredAccessToken, domain: apiUrl.hostname, path: '/', httpOnly: true, sameSite: 'Lax' }])
    refreshes.length = 0
    const refused: Response[] = []
    page.on('response', (res) => { if (isPath('/account/mypage')(res) && res.status() === 401) refused.push(res) })
    const messages = await page.evaluate(async () => {
      const client = await import(new URL('app.js', location.href).href) as { request: (m: string, p: string) => Promise<{ message: string }> }
      const answers = await Promise.all([1, 2, 3, 4].map(async () => await client.request('GET', '/account/mypage')))
      return answers.map((a) => a.message)
    })
    t.same(messages, Array(4).fill(greetingFor(email)), 'all four succeed')
    t.equal(refreshes.length, 1, 'exactly one refresh for four expired requests')
    const codes = await Promise.all(refused.map(async (res) => ((await res.json()) as { code: string }).code))
    t.same(codes, Array(4).fill('TOKEN_EXPIRED'), 'each was first refused as TOKEN_EXPIRED')
    await context.close()
  })

  t.test('two tabs hitting an expired token at once: one refresh between them, both stay signed in', async (t) => {
    // Refresh tokens rotate and a reused one revokes the login, so two tabs
    // refreshing with the same cookie would log each other out.
    const first = await open(browser, `${origin}/`)
    await logIn(first.page, email)
    await first.page.waitForSelector(visible('signed-in'))
    const second = await first.context.newPage()
    const refreshes: Request[] = []
    for (const page of [first.page, second]) {
      page.on('request', (req) => { if (new URL(req.url()).pathname === '/account/token/refresh') refreshes.push(req) })
    }
    await second.goto(`${origin}/`)
    await second.waitForSelector(visible('signed-in'))
    await first.context.addCookies([{ name: 'access_token', value: expiredAccessToken, domain: new URL(origin).hostname, path: '/', httpOnly: true, sameSite: 'Lax' }])
    refreshes.length = 0
    const ask = async (page: Page): Promise<string> => await page.evaluate(async () => {
      const client = await import(new URL('app.js', location.href).href) as { request: (m: string, p: string) => Promise<{ message: string }> }
      return (await client.request('GET', '/account/mypage')).message
    })
    t.same(await Promise.all([ask(first.page), ask(second)]), [greetingFor(email), greetingFor(email)])
    t.equal(refreshes.length, 1, 'one refresh for both tabs')
    t.equal((await refreshes[0]?.response())?.status(), 200)
    await first.context.close()
  })

  t.test('logout shows the login form; mypage then answers 401 and the refresh token is revoked', async (t) => {
    const { page, context, problems } = await open(browser, `${origin}/`)
    await logIn(page, email)
    await page.waitForSelector(visible('signed-in'))
    const refreshToken = (await cookieNamed(context, 'refresh_token'))?.value ?? ''
    const csrf = (await cookieNamed(context, 'csrf_token'))?.value
    const [logout] = await Promise.all([page.waitForResponse(isPath('/account/logout', 'POST')), page.click('#logout-button')])
    t.equal(logout.status(), 200)
    t.equal(logout.request().headers()['x-csrf-token'], csrf, 'X-CSRF-Token echoed from the csrf_token cookie')
    await page.waitForSelector(visible('signed-out'))
    t.ok(await page.isVisible('#login-form'), 'the login form is shown')
    const after = await page.evaluate(async () => {
      const res = await fetch('/account/mypage')
      return { status: res.status, code: ((await res.json()) as { code: string }).code, cookie: document.cookie }
    })
    t.same(after, { status: 401, code: 'TOKEN_MISSING', cookie: '' }, 'mypage answers 401; no cookie is left')
    const reuse = await app.inject({ method: 'POST', url: '/account/token/refresh', payload: { refresh: refreshToken } })
    t.equal(reuse.json().code, 'TOKEN_REVOKED', 'the logged-out refresh token is revoked')
    t.same(problems, [])
    await context.close()
  })

  t.test('"log out everywhere" ends the other sessions: their next refresh fails and shows the login form', async (t) => {
    const here = await open(browser, `${origin}/`)
    const there = await open(browser, `${origin}/`)
    await logIn(here.page, email)
    await logIn(there.page, email)
    await Promise.all([here.page.waitForSelector(visible('signed-in')), there.page.waitForSelector(visible('signed-in'))])
    // (Should the access token lapse meanwhile, the call refreshes first: wait for its 200.)
    const [all] = await Promise.all([
      here.page.waitForResponse((res) => isPath('/account/logout', 'POST')(res) && res.status() !== 401),
      here.page.click('#logout-all-button')
    ])
    t.equal(all.status(), 200)
    t.equal(all.request().postData(), '{"all":true}')
    await here.page.waitForSelector(visible('signed-out'))

    // The other browser's access token lapses (dropped here rather than waited for).
    await there.context.clearCookies({ name: 'access_token' })
    there.refreshes.length = 0
    const [refresh] = await Promise.all([there.page.waitForResponse(isPath('/account/token/refresh', 'POST')), there.page.click('#reload-button')])
    t.equal((await refresh.json()).code, 'TOKEN_REVOKED')
    await there.page.waitForSelector(visible('signed-out'))
    t.equal(await there.page.textContent('#login-form .error'), 'Your session has ended. Please log in again.')
    t.equal(there.refreshes.length, 1, 'one refresh attempt, no loop')
    await here.context.close()
    await there.context.close()
  })

  t.test('API errors are shown next to their form', async (t) => {
    const { page, context } = await open(browser, `${origin}/`)
    const wrong = await logIn(page, email, 'Not-the-password-1')
    t.equal(wrong.status(), 401)
    const body = await wrong.json() as { code: string, message: string }
    t.equal(body.code, 'INVALID_CREDENTIALS')
    await page.waitForSelector('#login-form .error:not([hidden])')
    t.equal(await page.textContent('#login-form .error'), body.message, 'the API\'s own message')
    t.ok(await page.isVisible('#login-form'), 'still on the login form')

    await fillJoin(page, { email: 'not-an-email', password: PASSWORD })
    const [invalid] = await Promise.all([page.waitForResponse(isPath('/account/join', 'POST')), page.click('#join-form button[type="submit"]')])
    const invalidBody = await invalid.json() as { code: string, message: string }
    t.equal(invalidBody.code, 'VALIDATION_ERROR')
    await page.waitForSelector('#join-form .error:not([hidden])')
    t.equal(await page.textContent('#join-form .error'), invalidBody.message)
    t.equal(await page.getAttribute('#join-form [name="email"]', 'aria-invalid'), 'true', 'the field named in details is marked')

    await fillJoin(page, { email: uniqueEmail(), password: '12345678' })
    const [weak] = await Promise.all([page.waitForResponse(isPath('/account/join', 'POST')), page.click('#join-form button[type="submit"]')])
    const weakBody = await weak.json() as { code: string, message: string }
    t.equal(weakBody.code, 'WEAK_PASSWORD')
    await page.waitForFunction((m) => document.querySelector('#join-form .error')?.textContent === m, weakBody.message)
    await context.close()
  })

  t.test('a page on an origin listed in CORS_ORIGINS logs in with credentials', async (t) => {
    const { page, context, problems } = await open(browser, `${listedOrigin}/`)
    const login = await logIn(page, email)
    t.equal(login.status(), 200)
    t.equal(login.headers()['access-control-allow-origin'], listedOrigin)
    t.equal(login.headers()['access-control-allow-credentials'], 'true')
    await page.waitForSelector(visible('signed-in'))
    t.equal(await page.textContent('#greeting'), greetingFor(email), 'mypage answered with the cookies')
    const [logout] = await Promise.all([page.waitForResponse(isPath('/account/logout', 'POST')), page.click('#logout-button')])
    t.equal(logout.status(), 200, 'a cookie-authenticated POST with its CSRF header')
    await page.waitForSelector(visible('signed-out'))
    t.same(problems, [])
    await context.close()
  })

  t.test('a page on an origin not listed cannot', async (t) => {
    const unlistedOrigin = `http://localhost:${unlisted.port}`
    const { page, context } = await open(browser, `${unlistedOrigin}/`)
    await page.waitForSelector(visible('signed-out'))
    await page.fill('#login-form [name="email"]', email)
    await page.fill('#login-form [name="password"]', PASSWORD)
    await page.click('#login-form button[type="submit"]')
    await page.waitForSelector('#login-form .error:not([hidden])')
    t.match(await page.textContent('#login-form .error'), /Cannot reach the auth service at http:\/\/localhost:\d+: .*CORS_ORIGINS/)
    t.notOk(await page.isVisible('#signed-in'))
    const fromUnlisted = seen.filter((line) => line.endsWith(` ${unlistedOrigin}`))
    t.ok(fromUnlisted.some((line) => line.startsWith('OPTIONS /account/login')), 'the preflight was asked')
    t.notOk(fromUnlisted.some((line) => line.startsWith('POST')), 'and the POST was never sent')
    t.same(await context.cookies(), [], 'no cookie was set')
    await context.close()
  })

  t.test('a page on another host of the same site cannot read the API\'s cookies: CSRF value from the X-CSRF-Token header', async (t) => {
    // app.example.test and auth.example.test (both 127.0.0.1 for this browser)
    // are one site, so SameSite=Lax cookies flow with `credentials: 'include'`,
    // but host-only cookies of auth.… are invisible to document.cookie on app.….
    let api = ''
    const appHost = await clientHost(t, () => api)
    const appOrigin = `http://app.example.test:${appHost.port}`
    const auth = await service(t, { CORS_ORIGINS: appOrigin })
    api = auth.origin.replace('localhost', 'auth.example.test')
    const { email: authEmail } = await joinByApi(auth.app)

    // Its own page, too, works over plain http on a host that is not localhost
    // (no upgrade-insecure-requests while PUBLIC_URL is http).
    const own = await open(browser, `${api}/`)
    await own.page.waitForSelector(visible('signed-out'))
    t.same(own.problems, [], 'app.js and style.css loaded from http://auth.example.test')
    await own.context.close()

    const watch = await open(browser, `${appOrigin}/`)
    const { page, context, refreshes, problems } = watch
    const login = await logIn(page, authEmail)
    t.equal(login.status(), 200)
    t.equal(login.headers()['access-control-allow-origin'], appOrigin)
    await page.waitForSelector(visible('signed-in'))
    t.equal(await page.textContent('#greeting'), greetingFor(authEmail))
    const view = await page.evaluate(() => ({ cookie: document.cookie, csrf: localStorage.getItem('auth-service.csrf') }))
    t.equal(view.cookie, '', 'the page cannot read any of the API\'s cookies')
    const csrfCookie = await cookieNamed(context, 'csrf_token')
    t.equal(csrfCookie?.domain, 'auth.example.test')
    t.equal(view.csrf, csrfCookie?.value, 'it keeps the CSRF value the API sent as a header')

    await accessExpired(watch.issuedAt)
    refreshes.length = 0
    const [refreshed] = await Promise.all([page.waitForResponse(isPath('/account/token/refresh', 'POST')), page.click('#reload-button')])
    t.equal(refreshed.status(), 200, 'the cookie refresh passed the CSRF check')
    await page.waitForResponse((res) => isPath('/account/mypage')(res) && res.status() === 200)
    t.equal(refreshes.length, 1)

    await page.reload()
    await page.waitForSelector(visible('signed-in'))
    const csrfNow = (await cookieNamed(context, 'csrf_token'))?.value
    const [logout] = await Promise.all([page.waitForResponse(isPath('/account/logout', 'POST')), page.click('#logout-button')])
    t.equal(logout.status(), 200)
    t.equal(logout.request().headers()['x-csrf-token'], csrfNow, 'after a reload it still sends the current CSRF value')
    await page.waitForSelector(visible('signed-out'))
    t.same(await context.cookies(), [], 'logout cleared the cookies')
    t.equal(await page.evaluate(() => localStorage.getItem('auth-service.csrf')), null, 'and the page forgot the CSRF value')
    t.same(problems, [])
    await context.close()
  })

  /** The service at http://staging.example.test:PORT, started with `env` (PUBLIC_URL may name that address). */
  async function stagingHost (t: Test, env: (origin: string) => NodeJS.ProcessEnv): Promise<{ app: FastifyInstance, origin: string }> {
    const port = await freePort()
    const origin = `http://staging.example.test:${port}`
    const app = await buildApp(testConfig(t, { LOG_LEVEL: 'silent', ...env(origin) }))
    t.teardown(() => app.close())
    await app.listen({ port, host: '127.0.0.1' })
    return { app, origin }
  }

  t.test('a plain-http staging host with COOKIE_SECURE=true: the page starts, and says why a login does not stick', async (t) => {
    // Issue 24: the CSP's upgrade-insecure-requests made app.js and style.css
    // https URLs, and the page stayed at "Checking your session…".
    const { app, origin: staging } = await stagingHost(t, (origin) => ({ COOKIE_SECURE: 'true', PUBLIC_URL: `${origin}/` }))
    const { email: stagingEmail } = await joinByApi(app)
    const { page, context, problems } = await open(browser, `${staging}/`)
    await page.waitForSelector(visible('signed-out'))
    t.same(problems, [], 'app.js and style.css loaded over plain http')
    const login = await logIn(page, stagingEmail)
    t.equal(login.status(), 200, 'the service accepted the login')
    await page.waitForSelector('#login-form .error:not([hidden])')
    t.match(await page.textContent('#login-form .error'), /refused the session cookies: the service marks them Secure \(COOKIE_SECURE=true\) and this page is plain http/)
    t.ok(await page.isVisible('#login-form'), 'still on the login form, not a half-signed-in page')
    t.same(await context.cookies(), [], 'the browser kept none of the Secure cookies')
    t.same(problems, [])
    await context.close()
  })

  t.test('a page whose script cannot run says so instead of "Checking your session…" forever', async (t) => {
    // app.js unreachable, style.css fine: the warning appears after a few seconds.
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.route('**/app.js', async (route) => { await route.abort() })
    await page.goto(`${origin}/`)
    t.ok(await page.isVisible('#loading'), 'still loading')
    t.notOk(await page.isVisible('#loading .stalled'), 'no warning at once')
    await page.waitForSelector('#loading .stalled', { state: 'visible', timeout: 20_000 })
    t.match(await page.textContent('#loading .stalled'), /This page's script \(app\.js\) has not started/)
    await context.close()

    // Both files refused, as when a page reached over http asks for https
    // (PUBLIC_URL says https, the host has no TLS): unstyled, the warning shows at once.
    const { origin: staging } = await stagingHost(t, () => ({ COOKIE_SECURE: 'true', PUBLIC_URL: 'https://staging.example.test/' }))
    const upgraded = await open(browser, `${staging}/`)
    t.ok(await upgraded.page.isVisible('#loading .stalled'), 'the warning is shown without waiting')
    t.notOk(await upgraded.page.isVisible('#signed-out'), 'the script never ran')
    await upgraded.context.close()
  })
}
