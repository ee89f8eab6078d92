/*
 * Social login through the client page in real Chromium (headless,
 * playwright-core) against a real OpenID Provider (oidc-provider on
 * 127.0.0.1, its development login and consent pages): "Continue with
 * <provider>" → the provider's pages → back on the page, signed in; the
 * linked account listed; a sign-in whose address belongs to an unverified
 * account comes back with the page's message and no session; with TOTP on,
 * the code is asked on the page after the provider (SOCIAL_MFA).
 */
import type { Page } from 'playwright-core'
import * as OTPAuth from 'otpauth'
import t from 'tap'
import { freePort } from '../../bench/lib/service.js'
import { buildApp } from '../../src/app.js'
import { greetingFor, launchChromium, visible } from '../helpers/browser.js'
import { join as joinByApi, testConfig, uniqueEmail } from '../helpers/app.js'
import { startOidcProvider } from '../helpers/oidc-provider.js'

t.test('Continue with the provider, sign in on its pages, come back signed in; a colliding address is refused', async (t) => {
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const provider = await startOidcProvider(t, { redirectUris: [`${origin}/account/social/idp/callback`] })
  const app = await buildApp(testConfig(t, {
    PORT: String(port),
    PUBLIC_URL: `${origin}/`,
    LOG_LEVEL: 'silent',
    SOCIAL_PROVIDERS: 'idp',
    SOCIAL_IDP_ISSUER: provider.issuer,
    SOCIAL_IDP_CLIENT_ID: provider.clientId,
    SOCIAL_IDP_CLIENT_SECRET: provider.clientSecret,
    SOCIAL_IDP_LABEL: 'Test IdP'
  }))
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const browser = await launchChromium(t)
  if (browser === undefined) return
  const page = await (await browser.newContext()).newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))

  const email = uniqueEmail()
  provider.accounts.set('browser-user', { email, email_verified: true, name: 'Browser User' })
  await page.goto(`${origin}/`)
  await page.waitForSelector(visible('signed-out'))
  const button = page.locator('#social-login a[data-provider="idp"]')
  await button.waitFor()
  t.equal(await button.textContent(), 'Continue with Test IdP')

  /** The provider's development pages: log in as `account`, then consent. */
  const atProvider = async (page: Page, account: string) => {
    await page.waitForURL((url) => url.origin === provider.issuer)
    await page.fill('input[name="login"]', account)
    await page.fill('input[name="password"]', 'any')
    await page.click('button[type="submit"]')
    // The consent page (when the provider asks it), then back to the service.
    await page.waitForURL((url) => url.origin === origin || url.pathname.startsWith('/interaction/'))
    if (new URL(page.url()).origin !== origin) await page.click('button[type="submit"]')
    await page.waitForURL((url) => url.origin === origin)
  }

  await button.click()
  await atProvider(page, 'browser-user')
  await page.waitForSelector(visible('signed-in'))
  t.equal(await page.textContent('#greeting'), greetingFor(email), 'signed in on the page')
  await page.waitForSelector(visible('social-form'))
  t.match(await page.textContent('#social-list li[data-provider="idp"]'), email, 'the linked account is listed')
  const cookies = await page.context().cookies()
  t.ok(cookies.some((c) => c.name === 'access_token' && c.httpOnly), 'the session\'s HttpOnly cookie')
  t.notOk(cookies.some((c) => c.name === 'social_state' && c.value !== ''), 'the state cookie is gone')

  // TOTP on (SOCIAL_MFA, the default): after the provider, the page asks for
  // the code, as after a password. Enrolled through the API with the page's
  // access token; the code of the next step (the current one confirmed it).
  const access = cookies.find((c) => c.name === 'access_token')!.value
  const setup = await app.inject({ method: 'POST', url: '/account/mfa/totp/setup', headers: { authorization: `Bearer ${access}` } })
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.json().secret), algorithm: 'SHA1', digits: 6, period: 30 })
  t.equal((await app.inject({ method: 'POST', url: '/account/mfa/totp/confirm', headers: { authorization: `Bearer ${access}` }, payload: { code: totp.generate() } })).statusCode, 200, 'TOTP is on')
  await page.click('#logout-button')
  await page.waitForSelector(visible('signed-out'))
  await page.locator('#social-login a[data-provider="idp"]').click()
  // The provider remembers its user: straight back, to the code step.
  await page.waitForURL((url) => url.origin === origin)
  await page.waitForSelector(visible('mfa-login-form'))
  t.equal(new URL(page.url()).search + new URL(page.url()).hash, '', 'the error and the mfa_token are dropped from the address bar')
  t.notOk((await page.context().cookies()).some((c) => c.name === 'access_token' && c.value !== ''), 'no session before the code')
  await page.fill('#mfa-login-form [name="code"]', totp.generate({ timestamp: Date.now() + 30_000 }))
  await page.click('#mfa-login-form button[type="submit"]')
  await page.waitForSelector(visible('signed-in'))
  t.equal(await page.textContent('#greeting'), greetingFor(email), 'signed in after the provider and the code')

  // Log out, then a provider account with the address of an unverified account.
  await page.click('#logout-button')
  await page.waitForSelector(visible('signed-out'))
  const existing = await joinByApi(app)
  provider.accounts.set('collider', { email: existing.email, email_verified: true })
  // A new browser context: the provider's own session would otherwise sign in browser-user again.
  const other = await (await browser.newContext()).newPage()
  await other.goto(`${origin}/`)
  await other.locator('#social-login a[data-provider="idp"]').click()
  await atProvider(other, 'collider')
  await other.waitForSelector('#login-form .error[data-code="SOCIAL_EMAIL_IN_USE"]')
  t.match(await other.textContent('#login-form .error'), /exists already/, 'the page says why')
  t.equal(new URL(other.url()).search, '', 'the error is dropped from the address bar')
  t.notOk((await other.context().cookies()).some((c) => c.name === 'access_token' && c.value !== ''), 'no session')
  t.same(problems, [], 'no page errors')
})
