/*
 * Two tabs of the client page refreshing at the same moment WITHOUT the Web
 * Locks serialisation (`/?no-web-locks`), in Debian's headless Chromium driven
 * by playwright-core. Both refresh requests carry the same refresh cookie and
 * reach the service together (the test holds the first until the second has
 * left): with the grace window both answer 200 with the same successor and
 * both tabs stay signed in; with REFRESH_REUSE_INTERVAL=0 (v1) the second is
 * taken as theft — which shows the race really happened.
 */
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Browser, Page, Route } from 'playwright-core'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { greetingFor, launchChromium, visible } from '../helpers/browser.js'
import { PASSWORD, testConfig, uniqueEmail } from '../helpers/app.js'

/** How long the first refresh is held for the second at most: a guard against a hang, not a timing assertion. */
const HOLD_LIMIT_MS = 15_000

async function service (t: Test, env: NodeJS.ProcessEnv): Promise<{ app: FastifyInstance, origin: string }> {
  const app = await buildApp(testConfig(t, { LOG_LEVEL: 'silent', ...env }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, origin: `http://localhost:${(app.server.address() as AddressInfo).port}` }
}

/** The mypage greeting as the page's own client gets it (refreshing once if it must). */
async function ask (page: Page): Promise<string> {
  return await page.evaluate(async () => {
    const client = await import(new URL('app.js', location.href).href) as { request: (m: string, p: string) => Promise<{ message: string }> }
    try {
      return (await client.request('GET', '/account/mypage')).message
    } catch (err) {
      return `refused: ${(err as { code?: string }).code ?? String(err)}`
    }
  })
}

/** Two tabs of one browser profile, signed in, whose access cookie has lapsed; refreshes held until both are in flight. */
async function twoTabsRacing (t: Test, browser: Browser, origin: string, app: FastifyInstance) {
  const email = uniqueEmail()
  const joined = await app.inject({ method: 'POST', url: '/account/join', payload: { email, password: PASSWORD } })
  t.equal(joined.statusCode, 201)
  const context = await browser.newContext()
  t.teardown(() => context.close())
  const tabs = [await context.newPage(), await context.newPage()] as const
  await tabs[0].goto(`${origin}/?no-web-locks`)
  await tabs[0].fill('#login-form [name="email"]', email)
  await tabs[0].fill('#login-form [name="password"]', PASSWORD)
  await tabs[0].click('#login-form button[type="submit"]')
  await tabs[0].waitForSelector(visible('signed-in'))
  await tabs[1].goto(`${origin}/?no-web-locks`)
  await tabs[1].waitForSelector(visible('signed-in'))

  // Both tabs hold the same refresh cookie; each refresh waits until both were sent.
  const held: Route[] = []
  const cookies: string[] = []
  let release: () => void = () => {}
  const bothSent = new Promise<void>((resolve) => { release = resolve })
  const guard = setTimeout(() => { release() }, HOLD_LIMIT_MS)
  t.teardown(() => { clearTimeout(guard) })
  await context.route('**/account/token/refresh', async (route) => {
    held.push(route)
    cookies.push(/(?:^|;\s*)refresh_token=([^;]+)/.exec(route.request().headers().cookie ?? '')?.[1] ?? '')
    if (held.length === 2) release()
    await bothSent
    await route.continue()
  })
  const answers: Array<{ status: number, refresh: string }> = []
  context.on('response', (res) => {
    if (new URL(res.url()).pathname !== '/account/token/refresh') return
    const cookie = /(?:^|\n)refresh_token=([^;]*)/.exec(res.headers()['set-cookie'] ?? '')?.[1] ?? ''
    answers.push({ status: res.status(), refresh: cookie })
  })
  await context.clearCookies({ name: 'access_token' })
  const greetings = await Promise.all(tabs.map(ask))
  clearTimeout(guard)
  return { email, tabs, held, cookies, answers, greetings, context }
}

const browser = await launchChromium(t)
if (browser !== undefined) {
  t.test('two tabs refresh at the same moment without Web Locks: both 200 with one successor, both stay signed in', async (t) => {
    const { app, origin } = await service(t, {})
    const { email, tabs, held, cookies, answers, greetings, context } = await twoTabsRacing(t, browser, origin, app)
    t.equal(held.length, 2, 'both tabs sent a refresh')
    t.equal(cookies[0], cookies[1], 'with the same refresh cookie')
    t.ok((cookies[0] ?? '').length > 20, 'a refresh token was sent')
    t.same(greetings, [greetingFor(email), greetingFor(email)], 'both tabs get mypage')
    t.same(answers.map((a) => a.status), [200, 200], 'both refreshes answered 200')
    t.equal(answers[0]?.refresh, answers[1]?.refresh, 'with the same refresh token')
    t.not(answers[0]?.refresh, cookies[0], 'a new one')
    // The login is intact: the next refresh (one tab, no race) works too.
    await context.unrouteAll()
    await context.clearCookies({ name: 'access_token' })
    t.equal(await ask(tabs[0]), greetingFor(email), 'a later refresh still works')
    for (const tab of tabs) {
      await tab.reload()
      await tab.waitForSelector(visible('signed-in'))
      t.equal(await tab.textContent('#greeting'), greetingFor(email), 'signed in after a reload')
    }
  })

  t.test('the same race with REFRESH_REUSE_INTERVAL=0 (v1) is taken as theft', async (t) => {
    const { app, origin } = await service(t, { REFRESH_REUSE_INTERVAL: '0' })
    const { held, answers, greetings } = await twoTabsRacing(t, browser, origin, app)
    t.equal(held.length, 2, 'both tabs sent a refresh')
    t.same(answers.map((a) => a.status).sort(), [200, 401], 'one rotation, one replay refused')
    t.ok(greetings.includes('refused: TOKEN_REVOKED') || greetings.includes('refused: TOKEN_MISSING'), `a tab is signed out: ${JSON.stringify(greetings)}`)
  })
}
