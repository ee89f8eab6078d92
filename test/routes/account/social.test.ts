import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { SignJWT, importJWK } from 'jose'
import * as OTPAuth from 'otpauth'
import t, { type Test } from 'tap'
import { mailTokenKey, newMailToken, passwordFingerprint } from '../../../src/accounts/account-tokens.js'
import { openState, sealState, STATE_KEY_NAME } from '../../../src/social/state.js'
import { build, buildWithLogs, cookiesOf, join as joinUser, login, NEW_PASSWORD, tempDir, uniqueEmail } from '../../helpers/app.js'
import { startOidcProvider, type TestProvider } from '../../helpers/oidc-provider.js'
import { testDatabase } from '../../helpers/postgres.js'

/*
 * Social login against a real OpenID Provider (oidc-provider on 127.0.0.1),
 * its development pages followed with plain HTTP: the browser flow from
 * start to callback, what must fail (forged and replayed state, wrong nonce,
 * consent denied, an unverified address colliding with an account, an open
 * redirect in `next`), the native apps' token exchange (wrong issuer,
 * audience, expiry, signature), explicit linking and unlinking.
 */

const PUBLIC_URL = 'http://127.0.0.1:3000/'
const CALLBACK = `${PUBLIC_URL}account/social/idp/callback`

/** The service (on SQLite, or a fresh PostgreSQL database with TEST_STORE=postgres: test/integration/postgres-suites.test.ts) and the provider. */
async function setUp (t: Test, env: NodeJS.ProcessEnv = {}) {
  const provider = await startOidcProvider(t, { redirectUris: [CALLBACK] })
  if (process.env.TEST_STORE === 'postgres') env = { DATABASE_URL: await testDatabase(t), ...env }
  const built = await buildWithLogs(t, {
    PUBLIC_URL,
    SOCIAL_PROVIDERS: 'idp',
    SOCIAL_IDP_ISSUER: provider.issuer,
    SOCIAL_IDP_CLIENT_ID: provider.clientId,
    SOCIAL_IDP_CLIENT_SECRET: provider.clientSecret,
    SOCIAL_IDP_AUDIENCES: 'ios-app',
    SOCIAL_IDP_LABEL: 'Test IdP',
    ...env
  })
  return { provider, ...built }
}

/** GET …/start: the provider's URL and the state cookie. */
async function start (app: FastifyInstance, query = '', cookies: Record<string, string> = {}) {
  const res = await app.inject({ method: 'GET', url: `/account/social/idp/start${query}`, cookies })
  return { res, location: String(res.headers.location), state: cookiesOf(res).social_state ?? '' }
}

/** The callback as the browser would make it, with the state cookie. */
async function callback (app: FastifyInstance, url: URL, state: string | undefined): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'GET', url: `${url.pathname}${url.search}`, cookies: state === undefined ? {} : { social_state: state } })
}

/** The whole browser flow for `accountId`. */
async function signInThrough (app: FastifyInstance, provider: TestProvider, accountId: string, query = '', cookies: Record<string, string> = {}) {
  const started = await start(app, query, cookies)
  const back = await provider.signIn(started.location, accountId)
  return await callback(app, back, started.state)
}

const errorOf = (res: LightMyRequestResponse): string | null => new URL(String(res.headers.location)).searchParams.get('error')
const loginCookies = (res: LightMyRequestResponse) => {
  const c = cookiesOf(res)
  return c.access_token !== undefined && c.access_token !== ''
}

t.test('a new user signs in through the provider: created with its verified email, no usable password', async (t) => {
  const { app, provider, logs } = await setUp(t)
  const email = uniqueEmail()
  provider.accounts.set('alice', { email, email_verified: true, name: 'Alice Kim' })

  const started = await start(app)
  t.equal(started.res.statusCode, 302)
  const authorize = new URL(started.location)
  t.equal(authorize.origin, provider.issuer)
  t.equal(authorize.searchParams.get('code_challenge_method'), 'S256')
  t.ok((authorize.searchParams.get('code_challenge') ?? '').length >= 43)
  t.ok((authorize.searchParams.get('state') ?? '').length >= 32)
  t.ok((authorize.searchParams.get('nonce') ?? '').length >= 32)
  t.equal(authorize.searchParams.get('redirect_uri'), CALLBACK)
  const stateCookie = started.res.cookies.find((c) => c.name === 'social_state')
  t.match(stateCookie, { httpOnly: true, maxAge: 600, path: '/account/social' })
  t.notOk(started.state.includes(authorize.searchParams.get('state') ?? 'x'), 'the state cookie is sealed, not readable')

  const back = await provider.signIn(started.location, 'alice')
  const res = await callback(app, back, started.state)
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, PUBLIC_URL)
  t.ok(loginCookies(res), 'the three cookies of a login')
  const cookies = cookiesOf(res)
  t.equal(cookies.social_state, '', 'the state cookie is expired')

  const me = await app.inject({ method: 'GET', url: '/account/mypage', cookies: { access_token: cookies.access_token! } })
  t.match(me.json().user, { email, name: 'Alice Kim', email_verified: true })
  t.ok(logs.some((l) => /"event":"login"/.test(l) && l.includes('"method":"social:idp"')), 'logged as login with method social:idp')
  t.notOk(logs.some((l) => l.includes(cookies.access_token!) || l.includes(back.searchParams.get('code')!)), 'no token or code in the logs')

  // No usable password: a password login fails as for a wrong password.
  const byPassword = await login(app, email, 'whatever-Password-123')
  t.equal(byPassword.statusCode, 401)
  t.equal(byPassword.json().code, 'INVALID_CREDENTIALS')

  const list = await app.inject({ method: 'GET', url: '/account/social', cookies: { access_token: cookies.access_token! } })
  t.match(list.json().identities, [{ provider: 'idp', email, linked_at: String, last_used_at: String }])

  // The same provider account again: the same user.
  const again = await signInThrough(app, provider, 'alice')
  const id = (await app.store.users.byEmail(email))!.id
  t.equal(again.statusCode, 302)
  t.equal(JSON.parse(Buffer.from(cookiesOf(again).access_token!.split('.')[1]!, 'base64url').toString()).user_id, id)

  // Unlinking the only way in is refused.
  const unlink = await app.inject({ method: 'DELETE', url: '/account/social/idp', headers: { authorization: `Bearer ${cookies.access_token!}` } })
  t.equal(unlink.statusCode, 409)
  t.equal(unlink.json().code, 'LAST_LOGIN_METHOD')
})

t.test('what the callback refuses: forged, replayed or missing state, a wrong nonce, denied consent', async (t) => {
  const { app, provider } = await setUp(t)
  provider.accounts.set('carol', { email: uniqueEmail(), email_verified: true })

  const started = await start(app)
  const back = await provider.signIn(started.location, 'carol')

  const forged = new URL(back)
  forged.searchParams.set('state', 'forged-state')
  let res = await callback(app, forged, started.state)
  t.equal(errorOf(res), 'SOCIAL_STATE_INVALID', 'a state that is not the cookie\'s')
  t.notOk(loginCookies(res))
  res = await callback(app, back, undefined)
  t.equal(errorOf(res), 'SOCIAL_STATE_INVALID', 'no state cookie (a callback this browser did not start)')
  res = await callback(app, back, `${started.state.slice(0, -4)}AAAA`)
  t.equal(errorOf(res), 'SOCIAL_STATE_INVALID', 'a tampered cookie')

  res = await callback(app, back, started.state)
  t.equal(res.statusCode, 302)
  t.ok(loginCookies(res), 'the genuine callback')
  res = await callback(app, back, started.state)
  t.equal(errorOf(res), 'SOCIAL_TOKEN_INVALID', 'replayed: the code is used up')
  t.notOk(loginCookies(res))

  // A wrong nonce: the state cookie resealed with the service's own key, its nonce changed.
  const key = Buffer.from((await app.store.serviceSecrets.get(STATE_KEY_NAME))!, 'base64url') // no JWT_KEYS_ENCRYPTION_KEY here: stored as it is
  const second = await start(app)
  const secondBack = await provider.signIn(second.location, 'carol')
  const opened = openState(key, 'idp', second.state, Math.floor(Date.now() / 1000))!
  res = await callback(app, secondBack, sealState(key, 'idp', { ...opened, nonce: 'not-the-nonce-of-this-sign-in' }))
  t.equal(errorOf(res), 'SOCIAL_TOKEN_INVALID', 'the ID token\'s nonce is not the sign-in\'s')
  t.notOk(loginCookies(res))
  // A state cookie of another provider name does not open.
  t.equal(openState(key, 'other', second.state, Math.floor(Date.now() / 1000)), undefined)

  const third = await start(app)
  const denied = await provider.signIn(third.location, 'carol', { deny: true })
  t.equal(denied.searchParams.get('error'), 'access_denied')
  res = await callback(app, denied, third.state)
  t.equal(errorOf(res), 'SOCIAL_DENIED')
  t.notOk(loginCookies(res))
})

t.test('linking by email: only when both the provider and the account say it is verified', async (t) => {
  const { app, provider } = await setUp(t)
  const unverified = await joinUser(app)
  provider.accounts.set('u1', { email: unverified.email, email_verified: true })
  let res = await signInThrough(app, provider, 'u1')
  t.equal(errorOf(res), 'SOCIAL_EMAIL_IN_USE', 'the account\'s address is not verified')
  t.notOk(loginCookies(res))

  const verified = await joinUser(app)
  await app.store.users.verifyEmails([verified.email])
  provider.accounts.set('u2', { email: verified.email, email_verified: false })
  res = await signInThrough(app, provider, 'u2')
  t.equal(errorOf(res), 'SOCIAL_EMAIL_IN_USE', 'the provider does not say the address is verified')
  t.same(await app.store.socialIdentities.byUser(verified.user.id as string), [], 'nothing linked')

  provider.accounts.set('u3', { email: verified.email, email_verified: true })
  res = await signInThrough(app, provider, 'u3')
  t.equal(res.statusCode, 302)
  t.ok(loginCookies(res), 'both verified: linked, and logged in')
  t.match(await app.store.socialIdentities.byUser(verified.user.id as string), [{ provider: 'idp', subject: 'u3' }])
})

t.test('next: a path of SOCIAL_REDIRECT_URL\'s origin, never another site', async (t) => {
  const { app, provider } = await setUp(t, { SOCIAL_REDIRECT_URL: 'http://127.0.0.1:3000/app' })
  provider.accounts.set('n1', { email: uniqueEmail(), email_verified: true })
  for (const next of ['//evil.example', 'https://evil.example/', '/\\evil.example', 'evil', '/\n/evil.example', '/\t/evil.example']) {
    const { res, state } = await start(app, `?next=${encodeURIComponent(next)}`)
    t.equal(res.statusCode, 302, next)
    t.equal(new URL(String(res.headers.location)).origin, 'http://127.0.0.1:3000', `${next}: stays here`)
    t.equal(errorOf(res), 'VALIDATION_ERROR', next)
    t.equal(state, '', 'no sign-in started')
  }
  const res = await signInThrough(app, provider, 'n1', '?next=/welcome?tab=1')
  t.equal(res.headers.location, 'http://127.0.0.1:3000/welcome?tab=1')
  const plain = await signInThrough(app, provider, 'n1')
  t.equal(plain.headers.location, 'http://127.0.0.1:3000/app')
})

t.test('an unknown provider is 404 NOT_FOUND; GET /account/social/providers lists the configured ones', async (t) => {
  const { app } = await setUp(t)
  for (const [method, url] of [['GET', '/account/social/nope/start'], ['GET', '/account/social/nope/callback'], ['POST', '/account/social/nope/token'], ['DELETE', '/account/social/nope']] as const) {
    const res = await app.inject({ method, url, ...(method === 'POST' ? { payload: { id_token: 'x' } } : {}) })
    t.equal(res.statusCode, method === 'DELETE' ? 401 : 404, `${method} ${url}`)
    if (method !== 'DELETE') t.equal(res.json().code, 'NOT_FOUND')
  }
  const list = await app.inject({ method: 'GET', url: '/account/social/providers' })
  t.same(list.json(), { providers: [{ name: 'idp', label: 'Test IdP', start_url: `${PUBLIC_URL}account/social/idp/start` }] })
})

t.test('POST …/token: an ID token for one of the configured client ids, verified against the provider\'s keys', async (t) => {
  const { app, provider } = await setUp(t)
  const key = await importJWK(provider.signingJwk as never, 'RS256')
  const email = uniqueEmail()
  const now = Math.floor(Date.now() / 1000)
  // Every claim given explicitly: what a test overrides is what gets signed.
  const idToken = async (claims: Record<string, unknown> = {}, signingKey: unknown = key) =>
    await new SignJWT({ iss: provider.issuer, aud: 'ios-app', sub: 'native-1', iat: now, exp: now + 300, email, email_verified: true, name: 'Native', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'test-rs256' })
      .sign(signingKey as never)
  const post = async (token: string) => await app.inject({ method: 'POST', url: '/account/social/idp/token', payload: { id_token: token } })

  const ok = await post(await idToken())
  t.equal(ok.statusCode, 200, ok.body)
  t.match(ok.json(), { user: { email, email_verified: true, name: 'Native' }, access: String, refresh: String })

  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const refusals: Array<[string, Promise<string>]> = [
    ['wrong issuer', idToken({ iss: 'http://127.0.0.1:1/' })],
    ['wrong audience', idToken({ aud: 'someone-else' })],
    ['expired', idToken({ exp: now - 3600, iat: now - 7200 })],
    ['signed by another key', idToken({}, other)]
  ]
  for (const [what, token] of refusals) {
    const res = await post(await token)
    t.equal(res.statusCode, 401, what)
    t.equal(res.json().code, 'SOCIAL_TOKEN_INVALID', what)
  }
  const tampered = (await idToken()).split('.')
  tampered[1] = Buffer.from(JSON.stringify({ iss: provider.issuer, aud: 'ios-app', sub: 'admin', email: 'admin@example.com', email_verified: true, exp: now + 300 })).toString('base64url')
  t.equal((await post(tampered.join('.'))).json().code, 'SOCIAL_TOKEN_INVALID', 'claims changed after signing')
  // A double submit of a new provider account's first sign-in: one user, both signed in.
  const twice = await idToken({ sub: 'native-2', email: uniqueEmail() })
  const both = await Promise.all([post(twice), post(twice)])
  t.same(both.map((r) => r.statusCode), [200, 200])
  t.equal(both[0]!.json().user.id, both[1]!.json().user.id, 'the same user')

  const missing = await app.inject({ method: 'POST', url: '/account/social/idp/token', payload: { access_token: 'x' } })
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().code, 'VALIDATION_ERROR')
})

t.test('explicit linking with the session; unlinking while a password remains', async (t) => {
  const { app, provider, logs } = await setUp(t)
  const session = await joinUser(app)
  provider.accounts.set('other-address', { email: uniqueEmail(), email_verified: false })
  const noSession = await start(app, '?link=true')
  t.equal(errorOf(noSession.res), 'TOKEN_MISSING', 'linking needs the session')

  const res = await signInThrough(app, provider, 'other-address', '?link=true', { access_token: session.access })
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, PUBLIC_URL)
  t.notOk(loginCookies(res), 'linking is no new login')
  t.match(await app.store.socialIdentities.byUser(session.user.id as string), [{ provider: 'idp', subject: 'other-address' }])
  t.ok(logs.some((l) => l.includes('"event":"social_linked"')))

  // That provider account now signs in to this user.
  const signIn = await signInThrough(app, provider, 'other-address')
  t.ok(loginCookies(signIn))

  // Another user cannot link the same provider account.
  const second = await joinUser(app)
  const taken = await signInThrough(app, provider, 'other-address', '?link=true', { access_token: second.access })
  t.equal(errorOf(taken), 'SOCIAL_ACCOUNT_IN_USE')

  const unlink = await app.inject({ method: 'DELETE', url: '/account/social/idp', headers: { authorization: `Bearer ${session.access}` } })
  t.equal(unlink.statusCode, 200, 'the password remains')
  t.ok(logs.some((l) => l.includes('"event":"social_unlinked"')))
  const again = await app.inject({ method: 'DELETE', url: '/account/social/idp', headers: { authorization: `Bearer ${session.access}` } })
  t.equal(again.statusCode, 404)
  t.equal(again.json().code, 'SOCIAL_NOT_LINKED')

  // A provider not (or no longer) configured, e.g. imported from Django: still listed, and unlinked.
  await app.store.socialIdentities.link({ id: 'legacy-1', userId: session.user.id as string, provider: 'facebook', subject: 'fb-1', email: '', createdAt: 1 })
  const listed = await app.inject({ method: 'GET', url: '/account/social', headers: { authorization: `Bearer ${session.access}` } })
  t.match(listed.json().identities, [{ provider: 'facebook', last_used_at: null }])
  const legacy = await app.inject({ method: 'DELETE', url: '/account/social/facebook', headers: { authorization: `Bearer ${session.access}` } })
  t.equal(legacy.statusCode, 200)
})

t.test('mandatory verification: a provider-verified address counts; an unverified one gets no login', async (t) => {
  const { app, provider } = await setUp(t, { EMAIL_VERIFICATION: 'mandatory' })
  provider.accounts.set('v', { email: uniqueEmail(), email_verified: true })
  t.ok(loginCookies(await signInThrough(app, provider, 'v')))
  const email = uniqueEmail()
  provider.accounts.set('nv', { email, email_verified: false })
  const res = await signInThrough(app, provider, 'nv')
  t.equal(errorOf(res), 'EMAIL_NOT_VERIFIED')
  t.notOk(loginCookies(res))
  t.match(await app.store.users.byEmail(email), { emailVerified: false }, 'the account exists, to be verified by mail')
})

t.test('a password reset gives a social-only account a password; then the identity may be unlinked', async (t) => {
  const { app, provider } = await setUp(t)
  const email = uniqueEmail()
  provider.accounts.set('resetter', { email, email_verified: true })
  t.equal((await signInThrough(app, provider, 'resetter')).statusCode, 302)
  const user = (await app.store.users.byEmail(email))!
  // The mailed token, as POST /account/password/reset would store it.
  const token = newMailToken()
  const now = Math.floor(Date.now() / 1000)
  await app.store.accountTokens.create({ id: mailTokenKey(token), userId: user.id, purpose: 'password_reset', email, passwordFingerprint: passwordFingerprint(user.passwordHash), expiresAt: now + 3600, createdAt: now })
  const confirm = await app.inject({ method: 'POST', url: '/account/password/reset/confirm', payload: { token, new_password: NEW_PASSWORD } })
  t.equal(confirm.statusCode, 200, confirm.body)
  t.equal((await login(app, email, NEW_PASSWORD)).statusCode, 200, 'the password now logs in')
  const fresh = (await login(app, email, NEW_PASSWORD)).json().access as string
  const unlink = await app.inject({ method: 'DELETE', url: '/account/social/idp', headers: { authorization: `Bearer ${fresh}` } })
  t.equal(unlink.statusCode, 200, 'a password remains')
})

t.test('the callback as a form POST (Apple\'s response_mode=form_post); forms stay refused elsewhere', async (t) => {
  const { app, provider } = await setUp(t)
  const email = uniqueEmail()
  provider.accounts.set('poster', { email, email_verified: true })
  const started = await start(app)
  const back = await provider.signIn(started.location, 'poster')
  const res = await app.inject({
    method: 'POST',
    url: '/account/social/idp/callback',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    // With the `user` field Apple adds on a first sign-in: an extra field the code exchange ignores.
    payload: `${back.searchParams.toString()}&user=${encodeURIComponent(JSON.stringify({ name: { firstName: 'Po', lastName: 'Ster' } }))}`,
    cookies: { social_state: started.state }
  })
  t.equal(res.statusCode, 302, res.body)
  t.ok(loginCookies(res), 'logged in')
  const forged = await app.inject({
    method: 'POST',
    url: '/account/social/idp/callback',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: back.searchParams.toString()
  })
  t.equal(errorOf(forged), 'SOCIAL_STATE_INVALID', 'a POST from another site without the state cookie')
  const login = await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'email=a%40b.c&password=x' })
  t.equal(login.statusCode, 415, 'other routes still take JSON only')
})

t.test('apple: form_post asked for, and its state cookie SameSite=None (sent on the cross-site POST)', async (t) => {
  const provider = await startOidcProvider(t, { redirectUris: ['https://auth.example.com/account/social/apple/callback'] })
  const dir = tempDir(t)
  writeFileSync(join(dir, 'AuthKey.p8'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const app = await build(t, {
    PUBLIC_URL: 'https://auth.example.com/',
    COOKIE_SECURE: 'true',
    SOCIAL_PROVIDERS: 'apple',
    SOCIAL_APPLE_ISSUER: provider.issuer,
    SOCIAL_APPLE_CLIENT_ID: provider.clientId,
    SOCIAL_APPLE_TEAM_ID: 'TEAM123456',
    SOCIAL_APPLE_KEY_ID: 'KEY1234567',
    SOCIAL_APPLE_PRIVATE_KEY_FILE: join(dir, 'AuthKey.p8')
  })
  const res = await app.inject({ method: 'GET', url: '/account/social/apple/start' })
  t.equal(res.statusCode, 302, res.body)
  const authorize = new URL(String(res.headers.location))
  t.equal(authorize.searchParams.get('response_mode'), 'form_post')
  t.equal(authorize.searchParams.get('scope'), 'openid email name')
  t.match(res.cookies.find((c) => c.name === 'social_state'), { sameSite: 'None', secure: true, httpOnly: true })
})

t.test('with JWT_KEYS_ENCRYPTION_KEY the state cookie\'s key is sealed at rest, and sign-ins work as before', async (t) => {
  const { app, provider } = await setUp(t, { JWT_KEYS_ENCRYPTION_KEY: 'social-test-encryption-key-0123456789abcdef' })
  provider.accounts.set('sealed', { email: uniqueEmail(), email_verified: true })
  t.ok(loginCookies(await signInThrough(app, provider, 'sealed')))
  const stored = (await app.store.serviceSecrets.get(STATE_KEY_NAME))!
  t.not(stored.length, 43, 'not the bare 32-byte key')
  t.notOk(/^[A-Za-z0-9_-]{43}$/.test(stored))
})

t.test('SOCIAL_MFA (default): a user with TOTP on gives the code after the provider; the session is the provider\'s', async (t) => {
  const { app, provider, logs } = await setUp(t)
  const email = uniqueEmail()
  provider.accounts.set('mia', { email, email_verified: true, name: 'Mia' })
  const first = await signInThrough(app, provider, 'mia')
  const access = cookiesOf(first).access_token!
  const setup = await app.inject({ method: 'POST', url: '/account/mfa/totp/setup', headers: { authorization: `Bearer ${access}` } })
  const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.json().secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate()
  const confirm = await app.inject({ method: 'POST', url: '/account/mfa/totp/confirm', headers: { authorization: `Bearer ${access}` }, payload: { code } })
  t.equal(confirm.statusCode, 200, 'TOTP is on')
  const [recoveryA, recoveryB] = confirm.json().recovery_codes as string[]

  // The browser flow: back to SOCIAL_REDIRECT_URL with error=MFA_REQUIRED, the mfa_token in the fragment, no login cookie.
  const back = await signInThrough(app, provider, 'mia')
  t.equal(back.statusCode, 302)
  const landing = new URL(String(back.headers.location))
  t.equal(`${landing.origin}${landing.pathname}`, PUBLIC_URL)
  t.equal(landing.searchParams.get('error'), 'MFA_REQUIRED')
  const mfaToken = new URLSearchParams(landing.hash.slice(1)).get('mfa_token')
  t.ok(mfaToken !== null && mfaToken.length >= 32, 'the mfa_token in the fragment (never sent to a server)')
  t.notOk(loginCookies(back), 'no login cookie before the code')
  const done = await app.inject({ method: 'POST', url: '/account/login/mfa', payload: { mfa_token: mfaToken, recovery_code: recoveryA } })
  t.equal(done.statusCode, 200, done.body)
  const sessions = (await app.inject({ url: '/account/sessions', headers: { authorization: `Bearer ${done.json().access}` } })).json().sessions
  t.match(sessions.find((s: { current: boolean }) => s.current), { method: 'social:idp' }, 'the session started by the code is the provider\'s')
  t.ok(logs.some((l) => /"event":"mfa_required"/.test(l) && l.includes('"method":"social:idp"')), 'logged as mfa_required with the provider')
  t.ok(logs.some((l) => /"event":"login"/.test(l) && l.includes('"method":"social:idp"') && l.includes('"mfa":"recovery_code"')), 'then login, method social:idp, mfa recovery_code')
  t.notOk(logs.some((l) => l.includes(mfaToken!)), 'the mfa_token is never logged')

  // The native apps' route answers as the password login does.
  const key = await importJWK(provider.signingJwk as never, 'RS256')
  const now = Math.floor(Date.now() / 1000)
  const sub = (await app.store.socialIdentities.byUser((await app.store.users.byEmail(email))!.id))[0]!.subject
  const idToken = await new SignJWT({ iss: provider.issuer, aud: 'ios-app', sub, iat: now, exp: now + 300, email, email_verified: true })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-rs256' }).sign(key as never)
  const native = await app.inject({ method: 'POST', url: '/account/social/idp/token', payload: { id_token: idToken } })
  t.equal(native.statusCode, 401)
  t.match(native.json(), { code: 'MFA_REQUIRED', mfa_token: String, methods: ['totp', 'recovery_code'] })
  t.notOk(loginCookies(native), 'no cookie')
  const nativeDone = await app.inject({ method: 'POST', url: '/account/login/mfa', payload: { mfa_token: native.json().mfa_token, recovery_code: recoveryB } })
  t.equal(nativeDone.statusCode, 200, nativeDone.body)
})

t.test('SOCIAL_MFA=false: the provider\'s sign-in stands for both factors', async (t) => {
  const { app, provider } = await setUp(t, { SOCIAL_MFA: 'false' })
  provider.accounts.set('noah', { email: uniqueEmail(), email_verified: true })
  const first = await signInThrough(app, provider, 'noah')
  const access = cookiesOf(first).access_token!
  const setup = await app.inject({ method: 'POST', url: '/account/mfa/totp/setup', headers: { authorization: `Bearer ${access}` } })
  const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.json().secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate()
  t.equal((await app.inject({ method: 'POST', url: '/account/mfa/totp/confirm', headers: { authorization: `Bearer ${access}` }, payload: { code } })).statusCode, 200)
  const again = await signInThrough(app, provider, 'noah')
  t.equal(errorOf(again), null)
  t.ok(loginCookies(again), 'a login at once')
})

t.test('the callback is rate limited per client address (RATE_LIMIT_LOGIN_MAX), the GET and the form POST together', async (t) => {
  const { app } = await setUp(t, { RATE_LIMIT_LOGIN_MAX: '2' })
  const get = await app.inject({ method: 'GET', url: '/account/social/idp/callback?code=x&state=y' })
  t.equal(get.statusCode, 302, 'a callback without a state cookie: redirected with its error')
  const form = await app.inject({ method: 'POST', url: '/account/social/idp/callback', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'code=x&state=y' })
  t.equal(form.statusCode, 302)
  const third = await app.inject({ method: 'GET', url: '/account/social/idp/callback?code=x&state=y' })
  t.equal(third.statusCode, 429)
  t.equal(third.json().code, 'RATE_LIMITED')
  t.ok(Number(third.headers['retry-after']) > 0, 'with Retry-After')
  const other = await app.inject({ method: 'GET', url: '/account/social/idp/callback?code=x&state=y', remoteAddress: '10.9.8.7' })
  t.equal(other.statusCode, 302, 'another address is not limited')
})
