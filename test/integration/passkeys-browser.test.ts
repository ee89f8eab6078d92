/*
 * Passkeys through the client page in real Chromium (headless, playwright-core)
 * with a virtual authenticator of the DevTools protocol (ctap2, internal,
 * resident keys, user verification): register one, log out, sign in with it
 * without typing an email, delete it, and see the sign-in refused. On
 * http://localhost:<port>, which WebAuthn treats as a secure context.
 */
import t from 'tap'
import { freePort } from '../../bench/lib/service.js'
import { buildApp } from '../../src/app.js'
import { greetingFor, isPath, launchChromium, logIn, visible } from '../helpers/browser.js'
import { join as joinByApi, testConfig } from '../helpers/app.js'

t.test('register a passkey on the page, log out, sign in with it without an email, delete it, and be refused', async (t) => {
  const port = await freePort()
  const origin = `http://localhost:${port}`
  const app = await buildApp(testConfig(t, { PORT: String(port), PUBLIC_URL: `${origin}/`, LOG_LEVEL: 'silent' }))
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const browser = await launchChromium(t)
  if (browser === undefined) return

  const context = await browser.newContext({ viewport: { width: 900, height: 900 } })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
  })

  const s = await joinByApi(app)
  await page.goto(`${origin}/`)
  t.equal(await page.getAttribute('#login-form [name="email"]', 'autocomplete'), 'username webauthn', 'conditional UI: the email field offers passkeys')
  t.equal((await logIn(page, s.email)).status(), 200)
  await page.waitForSelector(visible('passkeys-form'))
  t.equal(await page.locator('#passkey-list li').count(), 0, 'no passkey yet')

  // Add a passkey.
  await page.fill('#passkeys-form [name="name"]', 'Virtual key')
  const [registered] = await Promise.all([
    page.waitForResponse(isPath('/account/passkeys/register/verify', 'POST')),
    page.click('#passkey-add-button')
  ])
  t.equal(registered.status(), 201, 'registered through the page')
  await page.waitForSelector('#passkey-list li')
  t.equal(await page.inputValue('#passkey-list li [name="passkey-name"]'), 'Virtual key')
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
  t.equal(credentials.length, 1, 'the authenticator holds one credential')
  t.equal(credentials[0]?.isResidentCredential, true, 'a discoverable one')

  // Rename it.
  await page.fill('#passkey-list li [name="passkey-name"]', 'Renamed key')
  const [renamed] = await Promise.all([
    page.waitForResponse(isPath(`/account/passkeys/${credentials[0]?.credentialId.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') ?? ''}`, 'PATCH')),
    page.click('#passkey-list li button:text("Rename")')
  ])
  t.equal(renamed.status(), 200, 'renamed')

  // Log out: the signed-out page asks for a passkey through the email field's
  // autofill (conditional UI), which the virtual authenticator answers at
  // once with its one discoverable credential: signed in, no email typed.
  const [byAutofill] = await Promise.all([
    page.waitForResponse(isPath('/account/passkeys/login/verify', 'POST')),
    page.click('#logout-button')
  ])
  t.equal(byAutofill.status(), 200, 'signed in through the conditional UI')
  await page.waitForSelector(visible('signed-in'))
  t.equal(await page.textContent('#greeting'), greetingFor(s.email))

  // The button, on a page whose browser offers no autofill request.
  await context.addInitScript(() => { window.PublicKeyCredential.isConditionalMediationAvailable = async () => false })
  await page.reload()
  await page.waitForSelector(visible('signed-in'))
  await page.click('#logout-button')
  await page.waitForSelector(visible('signed-out'))
  t.equal(await page.inputValue('#login-form [name="email"]'), '', 'the email field is empty')
  const [signedIn] = await Promise.all([
    page.waitForResponse(isPath('/account/passkeys/login/verify', 'POST')),
    page.click('#passkey-login-button')
  ])
  t.equal(signedIn.status(), 200, 'signed in with the passkey button')
  await page.waitForSelector(visible('signed-in'))
  t.equal(await page.textContent('#greeting'), greetingFor(s.email))
  t.same((await context.cookies()).map((c) => c.name).sort(), ['access_token', 'csrf_token', 'refresh_token'], 'the three cookies')
  await page.waitForSelector('#passkey-list li')
  t.equal(await page.inputValue('#passkey-list li [name="passkey-name"]'), 'Renamed key')
  t.notMatch(await page.textContent('#passkey-list li'), /never used/, 'last used now')

  // Delete it (the user still has a password), log out, and the passkey no longer signs in.
  const [deleted] = await Promise.all([
    page.waitForResponse(isPath(new URL(renamed.url()).pathname, 'DELETE')),
    page.click('#passkey-list li button:text("Delete")')
  ])
  t.equal(deleted.status(), 200, 'deleted')
  await page.waitForFunction(() => document.querySelectorAll('#passkey-list li').length === 0)
  await page.click('#logout-button')
  await page.waitForSelector(visible('signed-out'))
  const [refused] = await Promise.all([
    page.waitForResponse(isPath('/account/passkeys/login/verify', 'POST')),
    page.click('#passkey-login-button')
  ])
  t.equal(refused.status(), 401, 'the deleted passkey is refused')
  t.equal((await refused.json()).code, 'PASSKEY_INVALID')
  await page.waitForSelector('#login-form .error:not([hidden])')
  t.match(await page.textContent('#login-form .error'), /could not be verified/, 'the page says so')
  t.ok(await page.isVisible(visible('signed-out')), 'still signed out')
  t.same(problems, [], 'no script errors')
})
