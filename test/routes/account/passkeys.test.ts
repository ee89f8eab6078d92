import type { FastifyInstance } from 'fastify'
import * as OTPAuth from 'otpauth'
import t, { type Test } from 'tap'
import { bearer, buildWithLogs, cookiesOf, join, logEvents, mypage, nowSeconds, PASSWORD, post, type Session, testConfig } from '../../helpers/app.js'
import { testDatabase } from '../../helpers/postgres.js'
import { sideSql } from '../../helpers/store.js'
import { createCredential, getAssertion, type Bend, type SoftCredential } from '../../helpers/webauthn.js'

/*
 * The passkey routes with a software authenticator (test/helpers/webauthn.ts),
 * on both stores: registration, listing, renaming, removal, sign-in, and
 * every refusal of the contract. The browser side is test/integration/passkeys-browser.test.ts.
 */

const ORIGIN = 'http://localhost:3000'

async function registerOptions (app: FastifyInstance, s: Session) {
  const res = await post(app, '/account/passkeys/register/options', undefined, bearer(s.access))
  if (res.statusCode !== 200) throw new Error(`register/options: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** Registers a new passkey for `s` through the routes; its software credential. */
async function register (app: FastifyInstance, s: Session, name?: string): Promise<SoftCredential> {
  const { response, credential } = createCredential(await registerOptions(app, s), ORIGIN)
  const res = await post(app, '/account/passkeys/register/verify', { response, ...(name === undefined ? {} : { name }) }, bearer(s.access))
  if (res.statusCode !== 201) throw new Error(`register/verify: ${res.statusCode} ${res.body}`)
  return credential
}

async function loginOptions (app: FastifyInstance, body: Record<string, unknown> = {}) {
  const res = await post(app, '/account/passkeys/login/options', body)
  if (res.statusCode !== 200) throw new Error(`login/options: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** A sign-in with `credential` (options fetched first), bent as asked. */
async function signIn (app: FastifyInstance, credential: SoftCredential, bend: Bend = {}) {
  const options = await loginOptions(app)
  return await post(app, '/account/passkeys/login/verify', { response: getAssertion(credential, options, ORIGIN, bend) })
}

function assertInvalid (t: Test, res: { statusCode: number, json: () => Record<string, unknown> }, status: number, what: string): void {
  t.equal(res.statusCode, status, `${what}: ${status}`)
  t.equal(res.json().code, 'PASSKEY_INVALID', `${what}: PASSKEY_INVALID`)
}

for (const kind of ['sqlite', 'postgres'] as const) {
  t.test(kind, async (t) => {
    const url = kind === 'postgres' ? await testDatabase(t) : undefined
    const { app, logs, config } = await buildWithLogs(t, {
      PUBLIC_URL: `${ORIGIN}/`,
      ...(url === undefined ? {} : { DATABASE_URL: url, JWT_SECRET: 'postgres-test-secret-0123456789abcdef' })
    })
    const sql = sideSql(t, config.database)

    t.test('registration: the options ask for a discoverable credential with user verification; verify stores it (201)', async (t) => {
      const s = await join(app, { name: 'Ana' })
      const options = await registerOptions(app, s)
      t.match(options, {
        rp: { id: 'localhost', name: 'localhost' },
        user: { id: Buffer.from(String(s.user.id)).toString('base64url'), name: s.email, displayName: 'Ana' },
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
        attestation: 'none',
        excludeCredentials: [],
        timeout: 300000
      })
      t.same(options.pubKeyCredParams.map((p: { alg: number }) => p.alg), [-8, -7, -257], 'EdDSA, ES256, RS256')
      const { response, credential } = createCredential(options, ORIGIN)
      const res = await post(app, '/account/passkeys/register/verify', { response, name: 'My phone' }, bearer(s.access))
      t.equal(res.statusCode, 201)
      t.same(Object.keys(res.json().passkey).sort(), ['backed_up', 'created_at', 'id', 'last_used_at', 'name'])
      t.match(res.json().passkey, { id: credential.id, name: 'My phone', last_used_at: null, backed_up: false })
      t.match(logEvents(logs, 'passkey_registered'), [{ userId: s.user.id, passkeyId: credential.id }], 'audit line')
      const again = await registerOptions(app, s)
      t.same(again.excludeCredentials, [{ id: credential.id, type: 'public-key', transports: ['internal'] }], 'the user\'s own passkeys are excluded')

      // The same credential once more (a fresh challenge): 409.
      const dup = createCredential(again, ORIGIN, { same: credential })
      const exists = await post(app, '/account/passkeys/register/verify', { response: dup.response }, bearer(s.access))
      t.equal(exists.statusCode, 409)
      t.equal(exists.json().code, 'PASSKEY_EXISTS')

      const second = await register(app, s)
      const list = await app.inject({ url: '/account/passkeys', headers: bearer(s.access) })
      t.same(list.json().passkeys.map((p: { id: string, name: string }) => [p.id, p.name]).sort(), [[credential.id, 'My phone'], [second.id, 'Passkey 2']].sort(), 'both listed; a default name')
    })

    t.test('registration refusals: 400 PASSKEY_INVALID, the challenge used up', async (t) => {
      const s = await join(app)
      const other = await join(app)
      const cases: Array<[string, Bend]> = [
        ['wrong origin', { origin: 'http://evil.example' }],
        ['wrong RP ID', { rpId: 'example.com' }],
        ['no user verification', { uv: false }],
        ['a sign-in answer', { type: 'webauthn.get' }]
      ]
      for (const [what, bend] of cases) {
        const options = await registerOptions(app, s)
        const { response } = createCredential(options, ORIGIN, bend)
        assertInvalid(t, await post(app, '/account/passkeys/register/verify', { response }, bearer(s.access)), 400, what)
        // The same challenge answered correctly afterwards: used up by the failed attempt.
        const retry = createCredential(options, ORIGIN)
        assertInvalid(t, await post(app, '/account/passkeys/register/verify', { response: retry.response }, bearer(s.access)), 400, `${what}, then a good answer to its challenge`)
      }

      const options = await registerOptions(app, s)
      const { response } = createCredential(options, ORIGIN)
      assertInvalid(t, await post(app, '/account/passkeys/register/verify', { response }, bearer(other.access)), 400, 'another user\'s challenge')
      t.equal((await post(app, '/account/passkeys/register/verify', { response }, bearer(s.access))).statusCode, 201, 'its own user can still use it')
      assertInvalid(t, await post(app, '/account/passkeys/register/verify', { response }, bearer(s.access)), 400, 'replayed')

      const late = await registerOptions(app, s)
      await sql(`UPDATE webauthn_challenges SET expires_at = ${nowSeconds() - 1} WHERE challenge = '${late.challenge as string}'`)
      assertInvalid(t, await post(app, '/account/passkeys/register/verify', { response: createCredential(late, ORIGIN).response }, bearer(s.access)), 400, 'expired challenge')

      const unknown = createCredential({ challenge: 'bm90LWlzc3VlZA', rp: { id: 'localhost' }, user: { id: 'x' } }, ORIGIN)
      assertInvalid(t, await post(app, '/account/passkeys/register/verify', { response: unknown.response }, bearer(s.access)), 400, 'a challenge never issued')

      t.equal((await post(app, '/account/passkeys/register/options')).statusCode, 401, 'options need an access token')
      t.equal((await post(app, '/account/passkeys/register/verify', { response })).statusCode, 401, 'verify needs an access token')
      const bad = await post(app, '/account/passkeys/register/verify', { response: { id: 'x' } }, bearer(s.access))
      t.equal(bad.statusCode, 400)
      t.equal(bad.json().code, 'VALIDATION_ERROR', 'a malformed response is a validation error')
    })

    t.test('sign-in: usernameless options, then 200 exactly as a login (user, tokens, three cookies)', async (t) => {
      const s = await join(app)
      const credential = await register(app, s)
      const options = await loginOptions(app)
      t.match(options, { rpId: 'localhost', userVerification: 'required', allowCredentials: [], timeout: 300000 })
      t.same((await loginOptions(app, { email: s.email.toUpperCase() })).allowCredentials, [{ id: credential.id, type: 'public-key', transports: ['internal'] }], 'an email narrows it')
      t.same((await loginOptions(app, { email: 'nobody@example.com' })).allowCredentials, [], 'an unknown email: usernameless')

      const res = await post(app, '/account/passkeys/login/verify', { response: getAssertion(credential, options, ORIGIN) }, { 'user-agent': 'Passkey-Browser/1' })
      t.equal(res.statusCode, 200, res.body)
      const body = res.json()
      t.same(Object.keys(body).sort(), ['access', 'refresh', 'user'])
      t.equal(body.user.id, s.user.id)
      t.same(Object.keys(cookiesOf(res)).sort(), ['access_token', 'csrf_token', 'refresh_token'])
      t.equal(res.headers['cache-control'], 'no-store')
      t.equal((await mypage(app, body.access)).statusCode, 200, 'the access token works')
      const sessions = (await app.inject({ url: '/account/sessions', headers: bearer(body.access) })).json().sessions
      t.match(sessions.find((x: { current: boolean }) => x.current), { method: 'passkey', user_agent: 'Passkey-Browser/1' }, 'a session with the method passkey')
      t.equal((await post(app, '/account/token/refresh', { refresh: body.refresh })).statusCode, 200, 'the refresh token works')
      t.match(logEvents(logs, 'login').filter((l) => l.userId === s.user.id), [{ method: 'passkey', passkeyId: credential.id }], 'audit line: login with method passkey')
      const listed = (await app.inject({ url: '/account/passkeys', headers: bearer(s.access) })).json().passkeys
      t.ok(Date.parse(listed[0].last_used_at) >= Date.now() - 60000, 'last_used_at is set')
      t.equal((await signIn(app, credential)).statusCode, 200, 'again, with the counter moving on')
      t.equal((await signIn(app, credential, { counter: 0 })).statusCode, 401, 'a counter back to 0 is refused once one was seen')
      t.match(logEvents(logs, 'passkey_counter_regressed').filter((l) => l.userId === s.user.id), [{ presentedCounter: 0, level: 40 }], 'and logged as a warning')
    })

    t.test('a passkey sign-in is two factors: no MFA_REQUIRED step for a user with TOTP on; its session has the method passkey', async (t) => {
      const s = await join(app)
      const credential = await register(app, s)
      const setup = await post(app, '/account/mfa/totp/setup', undefined, bearer(s.access))
      t.equal(setup.statusCode, 200, setup.body)
      const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.json().secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate()
      t.equal((await post(app, '/account/mfa/totp/confirm', { code }, bearer(s.access))).statusCode, 200, 'TOTP is on')
      const password = await post(app, '/account/login', { email: s.email, password: PASSWORD })
      t.equal(password.json().code, 'MFA_REQUIRED', 'the password login asks for the second factor')

      const res = await signIn(app, credential)
      t.equal(res.statusCode, 200, res.body)
      t.same(Object.keys(cookiesOf(res)).sort(), ['access_token', 'csrf_token', 'refresh_token'], 'a login at once')
      const sessions = (await app.inject({ url: '/account/sessions', headers: bearer(res.json().access) })).json().sessions
      t.match(sessions.find((x: { current: boolean }) => x.current), { method: 'passkey', current: true }, 'the session of the passkey sign-in')
    })

    t.test('sign-in refusals: 401 PASSKEY_INVALID', async (t) => {
      const s = await join(app)
      const credential = await register(app, s)

      const options = await loginOptions(app)
      const good = getAssertion(credential, options, ORIGIN)
      t.equal((await post(app, '/account/passkeys/login/verify', { response: good })).statusCode, 200)
      assertInvalid(t, await post(app, '/account/passkeys/login/verify', { response: good }), 401, 'replayed (challenge used up)')

      for (const [what, bend] of [['wrong origin', { origin: 'http://evil.example' }], ['wrong RP ID', { rpId: 'example.com' }], ['no user verification', { uv: false }]] as Array<[string, Bend]>) {
        const opts = await loginOptions(app)
        assertInvalid(t, await post(app, '/account/passkeys/login/verify', { response: getAssertion(credential, opts, ORIGIN, bend) }), 401, what)
        credential.counter -= 1
        assertInvalid(t, await post(app, '/account/passkeys/login/verify', { response: getAssertion(credential, opts, ORIGIN) }), 401, `${what}, then a good answer to its challenge`)
        credential.counter -= 1
      }

      const late = await loginOptions(app)
      await sql(`UPDATE webauthn_challenges SET expires_at = ${nowSeconds() - 1} WHERE challenge = '${late.challenge as string}'`)
      assertInvalid(t, await post(app, '/account/passkeys/login/verify', { response: getAssertion(credential, late, ORIGIN) }), 401, 'expired challenge')
      credential.counter -= 1

      const registration = await registerOptions(app, s)
      assertInvalid(t, await post(app, '/account/passkeys/login/verify', { response: getAssertion(credential, registration, ORIGIN) }), 401, 'a registration challenge')
      credential.counter -= 1

      const wrongHandle = getAssertion(credential, await loginOptions(app), ORIGIN)
      ;(wrongHandle.response as Record<string, string>).userHandle = Buffer.from(String((await join(app)).user.id)).toString('base64url')
      assertInvalid(t, await post(app, '/account/passkeys/login/verify', { response: wrongHandle }), 401, 'a user handle that is not the passkey\'s user')
      credential.counter -= 1

      const stranger = createCredential(await registerOptions(app, s), ORIGIN).credential
      assertInvalid(t, await signIn(app, stranger), 401, 'unknown credential')

      const tampered = getAssertion(credential, await loginOptions(app), ORIGIN)
      const response = tampered.response as Record<string, string>
      const signature = Buffer.from(response.signature ?? '', 'base64url')
      signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 1
      response.signature = signature.toString('base64url')
      assertInvalid(t, await post(app, '/account/passkeys/login/verify', { response: tampered }), 401, 'bad signature')
      credential.counter -= 1

      // A clone: a valid signature with a counter not above the stored one.
      const stored = credential.counter
      t.equal((await signIn(app, credential)).statusCode, 200)
      assertInvalid(t, await signIn(app, credential, { counter: stored + 1 }), 401, 'counter not moving forward')
      t.match(logEvents(logs, 'passkey_counter_regressed').filter((l) => l.userId === s.user.id), [{ userId: s.user.id, passkeyId: credential.id, storedCounter: stored + 1, presentedCounter: stored + 1 }], 'logged as a warning')
      t.equal((await signIn(app, credential, { counter: stored + 5 })).statusCode, 200, 'the genuine authenticator, moving on, still signs in')

      const hidden = JSON.stringify(logs.filter((l) => l.includes('passkey')))
      t.notMatch(hidden, String(response.signature), 'no signature in the logs')
    })

    t.test('a deactivated user\'s passkey is refused (403 ACCOUNT_INACTIVE, after the passkey is proven)', async (t) => {
      const s = await join(app)
      const credential = await register(app, s)
      await app.store.users.setActive(String(s.user.id), false)
      const res = await signIn(app, credential)
      t.equal(res.statusCode, 403)
      t.equal(res.json().code, 'ACCOUNT_INACTIVE')
      t.same((await loginOptions(app, { email: s.email })).allowCredentials, [], 'no credentials listed for an inactive user')
    })

    t.test('rename and remove: 404 for another user\'s or an unknown id; 409 for the last way to log in', async (t) => {
      const s = await join(app)
      const other = await join(app)
      const mine = await register(app, s)
      const theirs = await register(app, other)

      const renamed = await app.inject({ method: 'PATCH', url: `/account/passkeys/${mine.id}`, payload: { name: 'Laptop' }, headers: bearer(s.access) })
      t.equal(renamed.statusCode, 200)
      t.match(renamed.json(), { passkey: { id: mine.id, name: 'Laptop' } })
      for (const id of [theirs.id, 'dW5rbm93bg']) {
        const patch = await app.inject({ method: 'PATCH', url: `/account/passkeys/${id}`, payload: { name: 'Mine now' }, headers: bearer(s.access) })
        t.equal(patch.statusCode, 404)
        t.equal(patch.json().code, 'PASSKEY_NOT_FOUND')
        const del = await app.inject({ method: 'DELETE', url: `/account/passkeys/${id}`, headers: bearer(s.access) })
        t.equal(del.statusCode, 404)
        t.equal(del.json().code, 'PASSKEY_NOT_FOUND')
      }
      t.equal((await app.inject({ method: 'PATCH', url: `/account/passkeys/${mine.id}`, payload: { name: '' }, headers: bearer(s.access) })).json().code, 'VALIDATION_ERROR', 'an empty name')
      t.equal((await app.inject({ method: 'GET', url: '/account/passkeys' })).statusCode, 401, 'the list needs an access token')

      // A user with a password may remove every passkey.
      const removed = await app.inject({ method: 'DELETE', url: `/account/passkeys/${mine.id}`, headers: bearer(s.access) })
      t.equal(removed.statusCode, 200)
      t.same(removed.json(), { detail: 'Passkey removed.' })
      t.match(logEvents(logs, 'passkey_removed'), [{ userId: s.user.id, passkeyId: mine.id }], 'audit line')
      assertInvalid(t, await signIn(app, mine), 401, 'a removed passkey')

      // Without a usable password (an account carried over with Django's unusable mark), the last passkey stays.
      const second = await register(app, other)
      await sql(`UPDATE users SET password_hash = '!unusable' WHERE id = '${String(other.user.id)}'`)
      t.equal((await app.inject({ method: 'DELETE', url: `/account/passkeys/${theirs.id}`, headers: bearer(other.access) })).statusCode, 200, 'one of two')
      const last = await app.inject({ method: 'DELETE', url: `/account/passkeys/${second.id}`, headers: bearer(other.access) })
      t.equal(last.statusCode, 409)
      t.equal(last.json().code, 'LAST_LOGIN_METHOD')
      t.equal((await signIn(app, second)).statusCode, 200, 'it still signs in')
    })
  })
}

t.test('rate limited per IP as the login (RATE_LIMIT_LOGIN_MAX)', async (t) => {
  const { app } = await buildWithLogs(t, { PUBLIC_URL: `${ORIGIN}/`, RATE_LIMIT_LOGIN_MAX: '2' })
  for (const path of ['/account/passkeys/login/options', '/account/passkeys/login/verify']) {
    const codes = []
    for (let i = 0; i < 3; i++) codes.push((await app.inject({ method: 'POST', url: path, payload: {}, remoteAddress: '10.1.1.1' })).statusCode)
    t.equal(codes[2], 429, `${path}: the third attempt from one address`)
    t.not((await app.inject({ method: 'POST', url: path, payload: {}, remoteAddress: '10.1.1.2' })).statusCode, 429, `${path}: another address is not limited`)
  }
})

t.test('an IP-address RP ID (the default PUBLIC_URL): every passkey route is 501 PASSKEYS_UNAVAILABLE, said once at start', async (t) => {
  const { app, logs } = await buildWithLogs(t)
  const s = await join(app)
  const routes: Array<[string, string, Record<string, unknown> | undefined]> = [
    ['POST', '/account/passkeys/register/options', undefined],
    ['GET', '/account/passkeys', undefined],
    ['PATCH', '/account/passkeys/abc', { name: 'x' }],
    ['DELETE', '/account/passkeys/abc', undefined],
    ['POST', '/account/passkeys/login/options', {}],
    ['POST', '/account/passkeys/register/verify', { response: createCredential({ challenge: 'Y2hhbGxlbmdl', rp: { id: 'localhost' }, user: { id: 'dQ' } }, ORIGIN).response }],
    ['POST', '/account/passkeys/login/verify', { response: { id: 'aWQ', rawId: 'aWQ', type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' } } }]
  ]
  for (const [method, url, payload] of routes) {
    const res = await app.inject({ method: method as 'POST', url, headers: bearer(s.access), ...(payload === undefined ? {} : { payload }) })
    t.equal(res.statusCode, 501, `${method} ${url}`)
    t.equal(res.json().code, 'PASSKEYS_UNAVAILABLE')
    t.match(res.json().message, /set PUBLIC_URL to a host name \(e\.g\. http:\/\/localhost:3000\/\)/)
  }
  t.equal(logEvents(logs, 'passkeys_unavailable').length, 1, 'the start logs it once')
})

t.test('expired challenges are purged at start (and every TOKEN_PURGE_INTERVAL)', async (t) => {
  const config = testConfig(t, { PUBLIC_URL: `${ORIGIN}/`, LOG_LEVEL: 'info' })
  const first = await buildWithLogs(t, {}, config)
  await loginOptions(first.app)
  await loginOptions(first.app)
  await sideSql(t, config.database)(`UPDATE webauthn_challenges SET expires_at = ${nowSeconds() - 1}`)
  await loginOptions(first.app)
  await first.app.close()
  const second = await buildWithLogs(t, {}, config)
  t.match(logEvents(second.logs, 'webauthn_challenges_purged'), [{ count: 2 }], 'the two expired ones, not the live one')
})
