import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { join, testConfig } from '../helpers/app.js'
import { isPath, launchChromium, logIn, visible } from '../helpers/browser.js'

/*
 * The client page's "Sessions" list (public/sessions.js) in Chromium: two
 * browsers signed in as one user; one lists both sessions, marks its own,
 * and ends the other's, which is then signed out at its next request.
 */

const browser = await launchChromium(t)
if (browser !== undefined) {
  t.test('the Sessions list shows both logins and ends the other browser\'s session', async (t) => {
    const app = await buildApp(testConfig(t, { LOG_LEVEL: 'silent' }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())
    const origin = `http://localhost:${(app.server.address() as AddressInfo).port}`
    const { email } = await join(app)

    const problems: string[] = []
    const open = async (userAgent: string) => {
      const context = await browser.newContext({ userAgent })
      t.teardown(() => context.close())
      const page = await context.newPage()
      page.on('pageerror', (err) => problems.push(err.message))
      await page.goto(`${origin}/`)
      return page
    }
    const there = await open('Other-Browser/2.0')
    t.equal((await logIn(there, email)).status(), 200)
    await there.waitForSelector(visible('signed-in'))
    const here = await open('This-Browser/1.0')
    t.equal((await logIn(here, email)).status(), 200)
    await here.waitForSelector(visible('signed-in'))

    // The join's session, the other browser's and this one's.
    await here.waitForSelector('#sessions-form:not([hidden]) #session-list li:nth-child(3)')
    const rows = await here.$$eval('#session-list li', (items) => items.map((li) => li.textContent ?? ''))
    t.equal(rows.length, 3)
    t.match(rows[0], /This-Browser\/1\.0, 127\.0\.0\.1 — password, .*\(this browser\)/, 'newest first, its own marked')
    t.match(rows[1], /Other-Browser\/2\.0/)
    t.notMatch(rows[1], /this browser/)

    const [ended] = await Promise.all([
      here.waitForResponse(isPath(`/account/sessions/${await here.$eval('#session-list li:nth-child(2)', (li) => (li as HTMLElement).dataset.sessionId ?? '')}`, 'DELETE')),
      here.click('#session-list li:nth-child(2) button')
    ])
    t.equal(ended.status(), 200)
    await here.waitForFunction(() => document.querySelectorAll('#session-list li').length === 2)
    t.equal(await here.textContent('#sessions-form .notice'), 'Session ended.')

    // The other browser's next request: its access token refused, its refresh token revoked.
    await there.click('#reload-button')
    await there.waitForSelector(visible('signed-out'))
    t.equal(await there.textContent('#login-form .error'), 'Your session has ended. Please log in again.')
    t.same(problems, [], 'no script error')
  })
}
