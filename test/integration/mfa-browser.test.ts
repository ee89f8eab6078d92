/*
 * The second factor through the client page in real Chromium (headless,
 * playwright-core): enrol an authenticator app (the QR code shown as an
 * image, the key, the first code, the recovery codes shown once), log out,
 * log in with the password and then a code, and once more with a recovery
 * code. The codes are made by the `otpauth` package, as the user's app would.
 */
import * as OTPAuth from 'otpauth'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { greetingFor, isPath, launchChromium, logIn, visible } from '../helpers/browser.js'
import { join as joinByApi, testConfig } from '../helpers/app.js'

t.test('enrol TOTP on the page, log out, log in with a code, then with a recovery code', async (t) => {
  const app = await buildApp(testConfig(t, { LOG_LEVEL: 'silent' }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  const origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const browser = await launchChromium(t)
  if (browser === undefined) return

  const page = await browser.newPage({ viewport: { width: 900, height: 1200 } })
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  // The browser reports every 4xx/5xx answer as a failed resource: the 401 MFA_REQUIRED is one, by design.
  page.on('console', (msg) => { if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`) })

  const s = await joinByApi(app)
  await page.goto(`${origin}/`)
  t.equal((await logIn(page, s.email)).status(), 200)
  await page.waitForSelector('#mfa-status[data-enabled="false"]')
  t.match(await page.textContent('#mfa-status'), /Off/)

  // Enrol.
  await page.click('#mfa-setup-button')
  await page.waitForSelector(visible('mfa-enrol'))
  const secret = (await page.textContent('#mfa-secret')) ?? ''
  t.match(secret, /^[A-Z2-7]{32}$/, 'the key is shown')
  const qr = await page.$eval('#mfa-qr', (img) => ({ src: (img as HTMLImageElement).src, width: (img as HTMLImageElement).naturalWidth, complete: (img as HTMLImageElement).complete }))
  t.match(qr.src, /^data:image\/svg\+xml;charset=utf-8,/, 'the QR code is an image, not markup in the page')
  await page.waitForFunction(() => (document.querySelector('#mfa-qr') as HTMLImageElement).naturalWidth > 0)
  t.pass('the QR code image loads (the CSP allows data: images)')
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 })
  await page.fill('#mfa-form [name="code"]', totp.generate())
  const [confirmed] = await Promise.all([page.waitForResponse(isPath('/account/mfa/totp/confirm', 'POST')), page.click('#mfa-confirm-button')])
  t.equal(confirmed.status(), 200)
  await page.waitForSelector(visible('mfa-codes'))
  const codes = await page.$$eval('#mfa-code-list li', (items) => items.map((li) => li.textContent ?? ''))
  t.equal(codes.length, 10, 'ten recovery codes shown')
  await page.waitForSelector('#mfa-status[data-enabled="true"]')
  t.match(await page.textContent('#mfa-status'), /On since .*10 recovery codes left/)

  // Log out, then log in: the password, then a code. The code of the next
  // step (one step of drift is accepted): the current one confirmed the setup.
  await page.click('#logout-button')
  const first = await logIn(page, s.email)
  t.equal(first.status(), 401)
  t.equal((await first.json()).code, 'MFA_REQUIRED')
  await page.waitForSelector(visible('mfa-login-form'))
  t.equal(await page.isHidden('#login-form'), true, 'the code step replaces the login form')
  await page.fill('#mfa-login-form [name="code"]', totp.generate({ timestamp: Date.now() + 30_000 }))
  const [second] = await Promise.all([page.waitForResponse(isPath('/account/login/mfa', 'POST')), page.click('#mfa-login-form button[type="submit"]')])
  t.equal(second.status(), 200, 'logged in with the code')
  await page.waitForSelector(visible('signed-in'))
  t.equal(await page.textContent('#greeting'), greetingFor(s.email))
  await page.waitForSelector('#mfa-status[data-enabled="true"]')
  t.equal(await page.isHidden('#mfa-codes'), true, 'the recovery codes are not shown again')

  // Once more with a recovery code.
  await page.click('#logout-button')
  t.equal((await logIn(page, s.email)).status(), 401)
  await page.waitForSelector(visible('mfa-login-form'))
  await page.fill('#mfa-login-form [name="code"]', (codes[0] ?? '').toUpperCase())
  const [byRecovery] = await Promise.all([page.waitForResponse(isPath('/account/login/mfa', 'POST')), page.click('#mfa-login-form button[type="submit"]')])
  t.equal(byRecovery.status(), 200, 'logged in with a recovery code')
  await page.waitForSelector(visible('signed-in'))
  await page.waitForFunction(() => /9 recovery codes left/.test(document.querySelector('#mfa-status')?.textContent ?? ''))

  // Turned off with the password: the next login asks for the password only.
  await page.fill('#mfa-form [name="password"]', 'correct-Horse-battery-9')
  const [off] = await Promise.all([page.waitForResponse(isPath('/account/mfa/totp', 'DELETE')), page.click('#mfa-disable-button')])
  t.equal(off.status(), 200)
  await page.waitForSelector('#mfa-status[data-enabled="false"]')
  await page.click('#logout-button')
  t.equal((await logIn(page, s.email)).status(), 200, 'no code asked once it is off')
  await page.waitForSelector(visible('signed-in'))
  t.same(problems, [], 'no script error on the page')
})
