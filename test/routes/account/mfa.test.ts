import type { FastifyInstance } from 'fastify'
import * as OTPAuth from 'otpauth'
import t, { type Test } from 'tap'
import { buildApp } from '../../../src/app.js'
import { bearer, buildWithLogs, captureLogs, cookiesOf, join, logEvents, login, mypage, NEW_PASSWORD, PASSWORD, post, type Session, testConfig } from '../../helpers/app.js'
import { sideSql } from '../../helpers/store.js'
import { testDatabase } from '../../helpers/postgres.js'

/*
 * The second factor through the routes, on both stores: enrolment, the login
 * in two steps, replay and recovery-code refusals, the mfa_token's limits and
 * expiry (an injected clock), the password-guarded routes, the audit lines.
 * Codes are made by the `otpauth` package, not by the service's own TOTP.
 */

/** The service's clock, moved by the tests. */
interface Clock { now: number }

/** The code an authenticator app would show for `secret` at `ms`. */
const codeAt = (secret: string, ms: number): string =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: ms })

async function enrol (app: FastifyInstance, s: Session, clock: Clock): Promise<{ secret: string, recoveryCodes: string[] }> {
  const setup = await post(app, '/account/mfa/totp/setup', undefined, bearer(s.access))
  if (setup.statusCode !== 200) throw new Error(`setup: ${setup.statusCode} ${setup.body}`)
  const { secret } = setup.json()
  const confirm = await post(app, '/account/mfa/totp/confirm', { code: codeAt(secret, clock.now) }, bearer(s.access))
  if (confirm.statusCode !== 200) throw new Error(`confirm: ${confirm.statusCode} ${confirm.body}`)
  return { secret, recoveryCodes: confirm.json().recovery_codes }
}

/** A password login that must answer MFA_REQUIRED: its mfa_token. */
async function mfaToken (t: Test, app: FastifyInstance, email: string, password = PASSWORD): Promise<string> {
  const res = await login(app, email, password)
  t.equal(res.statusCode, 401, 'the password step: 401')
  t.equal(res.json().code, 'MFA_REQUIRED')
  return res.json().mfa_token
}

const status = async (app: FastifyInstance, s: Session) => (await app.inject({ url: '/account/mfa', headers: bearer(s.access) })).json()

for (const kind of ['sqlite', 'postgres'] as const) {
  t.test(kind, async (t) => {
    const url = kind === 'postgres' ? await testDatabase(t) : undefined
    const clock: Clock = { now: Date.now() }
    const config = testConfig(t, {
      LOG_LEVEL: 'info',
      PUBLIC_URL: 'http://auth.example.test:3000/',
      ...(url === undefined ? {} : { DATABASE_URL: url, JWT_SECRET: 'postgres-test-secret-0123456789abcdef' })
    })
    const { logs, logStream } = captureLogs()
    const app = await buildApp(config, { logStream, nowMs: () => clock.now })
    t.teardown(() => app.close())
    await app.ready()
    /** The next 30-second step: a new code that no earlier request used. */
    const nextStep = (): void => { clock.now += 30_000 }

    t.test('setup → confirm: secret, otpauth URL, QR code; a wrong code is 400 MFA_CODE_INVALID; then recovery codes once', async (t) => {
      const s = await join(app)
      t.same(await status(app, s), { totp: { enabled: false, created_at: null }, recovery_codes_left: 0 })
      const confirmEarly = await post(app, '/account/mfa/totp/confirm', { code: '123456' }, bearer(s.access))
      t.equal(confirmEarly.statusCode, 409)
      t.equal(confirmEarly.json().code, 'MFA_SETUP_REQUIRED')

      const res = await post(app, '/account/mfa/totp/setup', undefined, bearer(s.access))
      t.equal(res.statusCode, 200)
      const { secret, otpauth_url: otpauthUrl, qr_svg: qrSvg } = res.json()
      t.match(secret, /^[A-Z2-7]{32}$/, '160 bits, base32')
      t.equal(otpauthUrl, `otpauth://totp/auth.example.test:${encodeURIComponent(s.email)}?secret=${secret}&issuer=auth.example.test&algorithm=SHA1&digits=6&period=30`)
      t.match(qrSvg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
      t.notMatch(qrSvg, /<script/i)
      t.same(await status(app, s), { totp: { enabled: false, created_at: null }, recovery_codes_left: 0 }, 'pending is not on')

      const wrongCode = codeAt(secret, clock.now) === '000000' ? '111111' : '000000'
      const wrong = await post(app, '/account/mfa/totp/confirm', { code: wrongCode }, bearer(s.access))
      t.equal(wrong.statusCode, 400)
      t.equal(wrong.json().code, 'MFA_CODE_INVALID')
      t.equal((await login(app, s.email)).statusCode, 200, 'a pending setup does not ask for a code')

      const confirm = await post(app, '/account/mfa/totp/confirm', { code: codeAt(secret, clock.now) }, bearer(s.access))
      t.equal(confirm.statusCode, 200)
      const codes: string[] = confirm.json().recovery_codes
      t.equal(codes.length, 10)
      t.equal(new Set(codes).size, 10)
      for (const code of codes) t.match(code, /^[a-z2-7]{5}-[a-z2-7]{5}$/)
      const st = await status(app, s)
      t.equal(st.totp.enabled, true)
      t.equal(st.totp.created_at, new Date(Math.floor(clock.now / 1000) * 1000).toISOString())
      t.equal(st.recovery_codes_left, 10)
      t.match(logEvents(logs, 'mfa_enabled').at(-1), { userId: s.user.id })
      t.notOk(logs.some((l) => l.includes(secret) || codes.some((c) => l.includes(c))), 'neither the secret nor a code is logged')

      const again = await post(app, '/account/mfa/totp/setup', undefined, bearer(s.access))
      t.equal(again.statusCode, 409)
      t.equal(again.json().code, 'MFA_ALREADY_ENABLED')
    })

    t.test('setup and status need a token; an unsafe method with cookies needs the CSRF header', async (t) => {
      t.equal((await post(app, '/account/mfa/totp/setup')).statusCode, 401)
      t.equal((await app.inject({ url: '/account/mfa' })).statusCode, 401)
      const s = await join(app)
      const noCsrf = await post(app, '/account/mfa/totp/setup', undefined, {}, s.cookies)
      t.equal(noCsrf.statusCode, 403)
      t.equal(noCsrf.json().code, 'CSRF_FAILED')
      const withCsrf = await post(app, '/account/mfa/totp/setup', undefined, { 'x-csrf-token': s.csrf }, s.cookies)
      t.equal(withCsrf.statusCode, 200)
    })

    t.test('login with TOTP on: 401 MFA_REQUIRED with no token or cookie; the code finishes it as a login', async (t) => {
      const s = await join(app)
      const { secret } = await enrol(app, s, clock)
      nextStep()
      const first = await login(app, s.email)
      t.equal(first.statusCode, 401)
      const body = first.json()
      t.match(body, { statusCode: 401, error: 'Unauthorized', code: 'MFA_REQUIRED', message: String, mfa_token: String, methods: ['totp', 'recovery_code'] })
      t.notOk('access' in body || 'refresh' in body, 'no token')
      t.same(first.cookies, [], 'no cookie')

      const wrongPassword = await login(app, s.email, NEW_PASSWORD)
      const unknown = await login(app, `nobody-${Date.now()}@example.com`, NEW_PASSWORD)
      t.same(wrongPassword.json(), unknown.json(), 'a wrong password answers as for an unknown account: no hint that TOTP is on')
      t.equal(wrongPassword.json().code, 'INVALID_CREDENTIALS')

      const res = await post(app, '/account/login/mfa', { mfa_token: body.mfa_token, code: codeAt(secret, clock.now) })
      t.equal(res.statusCode, 200)
      const json = res.json()
      t.match(json, { user: { id: s.user.id, email: s.email }, access: String, refresh: String })
      t.ok(cookiesOf(res).access_token !== undefined || Object.keys(cookiesOf(res)).length > 0, 'cookies set as by a login')
      t.equal((await mypage(app, json.access)).statusCode, 200, 'the access token works')
      t.match(logEvents(logs, 'login').at(-1), { userId: s.user.id, mfa: 'totp' })
      t.match(logEvents(logs, 'mfa_required').at(-1), { userId: s.user.id })
      t.notOk(logs.some((l) => l.includes(body.mfa_token)), 'the mfa_token is never logged')

      const reused = await post(app, '/account/login/mfa', { mfa_token: body.mfa_token, code: codeAt(secret, clock.now) })
      t.equal(reused.statusCode, 401)
      t.equal(reused.json().code, 'MFA_TOKEN_INVALID', 'an mfa_token is used once')
    })

    t.test('a TOTP code is accepted once: its replay within its window is refused (RFC 6238 §5.2)', async (t) => {
      const s = await join(app)
      const { secret } = await enrol(app, s, clock)
      const sameStep = await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), code: codeAt(secret, clock.now) })
      t.equal(sameStep.statusCode, 401, 'the code that confirmed the setup cannot log in')
      t.equal(sameStep.json().code, 'MFA_CODE_INVALID')
      nextStep()
      const code = codeAt(secret, clock.now)
      t.equal((await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), code })).statusCode, 200)
      const replay = await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), code })
      t.equal(replay.statusCode, 401)
      t.equal(replay.json().code, 'MFA_CODE_INVALID', 'the same code again (another login attempt): refused')
      const older = await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), code: codeAt(secret, clock.now - 30_000) })
      t.equal(older.json().code, 'MFA_CODE_INVALID', 'an earlier step\'s code: refused too')
      t.match(logEvents(logs, 'mfa_failed').at(-1), { userId: s.user.id, method: 'totp' })
      clock.now += 10_000
      const spaced = codeAt(secret, clock.now + 30_000)
      t.equal((await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), code: `${spaced.slice(0, 3)} ${spaced.slice(3)}` })).statusCode, 200,
        'the next step\'s code (clock drift) typed with a space')
    })

    t.test('a recovery code logs in once, typed in any case with or without the dash', async (t) => {
      const s = await join(app)
      const { recoveryCodes } = await enrol(app, s, clock)
      const code = recoveryCodes[0] ?? ''
      const res = await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), recovery_code: ` ${code.replace('-', '').toUpperCase()} ` })
      t.equal(res.statusCode, 200)
      t.match(logEvents(logs, 'recovery_code_used').at(-1), { userId: s.user.id })
      t.match(logEvents(logs, 'login').at(-1), { userId: s.user.id, mfa: 'recovery_code' })
      t.equal((await status(app, s)).recovery_codes_left, 9)
      const again = await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), recovery_code: code })
      t.equal(again.statusCode, 401)
      t.equal(again.json().code, 'MFA_CODE_INVALID', 'used: refused')
      t.notOk(logs.some((l) => l.includes(code)), 'never logged')
    })

    t.test('the body takes exactly one of code and recovery_code', async (t) => {
      const s = await join(app)
      await enrol(app, s, clock)
      const token = await mfaToken(t, app, s.email)
      for (const body of [{ mfa_token: token }, { mfa_token: token, code: '123456', recovery_code: 'abcde-fghij' }]) {
        const res = await post(app, '/account/login/mfa', body)
        t.equal(res.statusCode, 400)
        t.equal(res.json().code, 'VALIDATION_ERROR')
      }
      const extra = await post(app, '/account/login/mfa', { mfa_token: token, code: '123456', email: s.email })
      t.equal(extra.json().code, 'VALIDATION_ERROR')
      const unknown = await post(app, '/account/login/mfa', { mfa_token: 'x'.repeat(43), code: '123456' })
      t.equal(unknown.statusCode, 401)
      t.equal(unknown.json().code, 'MFA_TOKEN_INVALID')
    })

    t.test('5 wrong codes end the mfa_token, the right code included afterwards', async (t) => {
      const s = await join(app)
      const { secret } = await enrol(app, s, clock)
      nextStep()
      const token = await mfaToken(t, app, s.email)
      const right = codeAt(secret, clock.now)
      const wrong = right === '000000' ? '111111' : '000000'
      for (let i = 1; i <= 4; i++) t.equal((await post(app, '/account/login/mfa', { mfa_token: token, code: wrong })).json().code, 'MFA_CODE_INVALID', `wrong code ${i}`)
      t.equal((await post(app, '/account/login/mfa', { mfa_token: token, recovery_code: 'aaaaa-aaaaa' })).json().code, 'MFA_CODE_INVALID', 'the 5th, a wrong recovery code')
      const late = await post(app, '/account/login/mfa', { mfa_token: token, code: right })
      t.equal(late.statusCode, 401)
      t.equal(late.json().code, 'MFA_TOKEN_INVALID')
      t.equal((await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), code: right })).statusCode, 200, 'a new login attempt may use it')
    })

    t.test('an mfa_token lives 5 minutes', async (t) => {
      const s = await join(app)
      const { secret } = await enrol(app, s, clock)
      const token = await mfaToken(t, app, s.email)
      clock.now += 300_000
      const res = await post(app, '/account/login/mfa', { mfa_token: token, code: codeAt(secret, clock.now) })
      t.equal(res.statusCode, 401)
      t.equal(res.json().code, 'MFA_TOKEN_INVALID')
      const fresh = await mfaToken(t, app, s.email)
      clock.now += 299_000
      t.equal((await post(app, '/account/login/mfa', { mfa_token: fresh, code: codeAt(secret, clock.now) })).statusCode, 200, 'just before 5 minutes: fine')
    })

    t.test('the mfa_token dies with a change of password made meanwhile', async (t) => {
      const s = await join(app)
      const { secret } = await enrol(app, s, clock)
      nextStep()
      const token = await mfaToken(t, app, s.email)
      const change = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(s.access))
      t.equal(change.statusCode, 200)
      const res = await post(app, '/account/login/mfa', { mfa_token: token, code: codeAt(secret, clock.now) })
      t.equal(res.json().code, 'MFA_TOKEN_INVALID')
    })

    t.test('new recovery codes: after the password; the old ones die; 409 when TOTP is off', async (t) => {
      const s = await join(app)
      const off = await post(app, '/account/mfa/recovery-codes', { password: PASSWORD }, bearer(s.access))
      t.equal(off.statusCode, 409)
      t.equal(off.json().code, 'MFA_NOT_ENABLED')
      const { recoveryCodes } = await enrol(app, s, clock)
      const wrong = await post(app, '/account/mfa/recovery-codes', { password: NEW_PASSWORD }, bearer(s.access))
      t.equal(wrong.statusCode, 400)
      t.equal(wrong.json().code, 'INVALID_PASSWORD', 'as a password change answers')
      const res = await post(app, '/account/mfa/recovery-codes', { password: PASSWORD }, bearer(s.access))
      t.equal(res.statusCode, 200)
      const fresh: string[] = res.json().recovery_codes
      t.equal(fresh.length, 10)
      t.equal((await status(app, s)).recovery_codes_left, 10)
      const old = await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), recovery_code: recoveryCodes[0] })
      t.equal(old.json().code, 'MFA_CODE_INVALID', 'an old code: dead')
      t.equal((await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), recovery_code: fresh[0] })).statusCode, 200)
    })

    t.test('disable: after the password; logins ask for no code again', async (t) => {
      const s = await join(app)
      await enrol(app, s, clock)
      const wrong = await app.inject({ method: 'DELETE', url: '/account/mfa/totp', payload: { password: NEW_PASSWORD }, headers: bearer(s.access) })
      t.equal(wrong.statusCode, 400)
      t.equal(wrong.json().code, 'INVALID_PASSWORD')
      t.equal((await status(app, s)).totp.enabled, true)
      const token = await mfaToken(t, app, s.email)
      const res = await app.inject({ method: 'DELETE', url: '/account/mfa/totp', payload: { password: PASSWORD }, headers: bearer(s.access) })
      t.equal(res.statusCode, 200)
      t.same(await status(app, s), { totp: { enabled: false, created_at: null }, recovery_codes_left: 0 })
      t.match(logEvents(logs, 'mfa_disabled').at(-1), { userId: s.user.id })
      t.equal((await login(app, s.email)).statusCode, 200)
      t.equal((await post(app, '/account/login/mfa', { mfa_token: token, code: '123456' })).json().code, 'MFA_TOKEN_INVALID', 'waiting logins end with it')
    })

    t.test('the current-password routes share the per-user password-check limit', async (t) => {
      const s = await join(app)
      await enrol(app, s, clock)
      const max = config.passwordCheckMax
      for (let i = 0; i < max; i++) await post(app, '/account/mfa/recovery-codes', { password: NEW_PASSWORD }, bearer(s.access))
      const limited = await app.inject({ method: 'DELETE', url: '/account/mfa/totp', payload: { password: PASSWORD }, headers: bearer(s.access) })
      t.equal(limited.statusCode, 429)
      t.equal(limited.json().code, 'RATE_LIMITED')
      const change = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(s.access))
      t.equal(change.statusCode, 429, 'the password change counts in the same limit')
    })

    t.test('a password reset does not turn TOTP off', async (t) => {
      const s = await join(app)
      const { secret } = await enrol(app, s, clock)
      // The reset's own flow is tested elsewhere; here its store step, as the reset confirmation runs it.
      await app.store.users.setPassword(s.user.id as string, await app.passwords.hash(NEW_PASSWORD), Math.floor(clock.now / 1000))
      nextStep()
      const token = await mfaToken(t, app, s.email, NEW_PASSWORD)
      t.equal((await post(app, '/account/login/mfa', { mfa_token: token, code: codeAt(secret, clock.now) })).statusCode, 200)
    })
  })
}

t.test('with JWT_KEYS_ENCRYPTION_KEY the secret is stored sealed, and still works', async (t) => {
  const clock: Clock = { now: Date.now() }
  const app = await buildApp(testConfig(t, { JWT_KEYS_ENCRYPTION_KEY: 'k'.repeat(40) }), { nowMs: () => clock.now })
  t.teardown(() => app.close())
  const s = await join(app)
  const { secret } = await enrol(app, s, clock)
  const stored = (await app.store.mfa.totp(s.user.id as string))?.secret ?? ''
  t.match(stored, /^sealed:v1:/)
  t.notOk(stored.includes(secret))
  clock.now += 30_000
  t.equal((await post(app, '/account/login/mfa', { mfa_token: await mfaToken(t, app, s.email), code: codeAt(secret, clock.now) })).statusCode, 200)
})

t.test('attempts at POST /account/login/mfa are limited per user, whatever the mfa_token and address', async (t) => {
  const clock: Clock = { now: Date.now() }
  const app = await buildApp(testConfig(t, { RATE_LIMIT_LOGIN_MAX: '6' }), { nowMs: () => clock.now })
  t.teardown(() => app.close())
  const s = await join(app)
  await enrol(app, s, clock)
  const tokens = [await mfaToken(t, app, s.email), await mfaToken(t, app, s.email)]
  const statuses: number[] = []
  for (let i = 0; i < 7; i++) {
    const res = await app.inject({ method: 'POST', url: '/account/login/mfa', payload: { mfa_token: tokens[i % 2], code: '000000' }, remoteAddress: `10.0.0.${i + 1}` })
    statuses.push(res.statusCode)
  }
  t.same(statuses, [401, 401, 401, 401, 401, 401, 429], 'the 7th attempt of the user: 429, from a new address with a live token')
})

t.test('expired logins waiting for a second factor are purged at start (and every TOKEN_PURGE_INTERVAL)', async (t) => {
  const clock: Clock = { now: Date.now() }
  const config = testConfig(t, { LOG_LEVEL: 'info', PUBLIC_URL: 'http://auth.example.test:3000/' })
  const first = await buildApp(config, { nowMs: () => clock.now })
  const s = await join(first)
  await enrol(first, s, clock)
  await mfaToken(t, first, s.email)
  await mfaToken(t, first, s.email)
  await sideSql(t, config.database)(`UPDATE mfa_challenges SET expires_at = ${Math.floor(Date.now() / 1000) - 1}`)
  await mfaToken(t, first, s.email)
  await first.close()
  const none = await buildWithLogs(t, {}, { ...config, tokenPurgeInterval: 0 })
  t.same(logEvents(none.logs, 'mfa_challenges_purged'), [], 'TOKEN_PURGE_INTERVAL=0: no purge')
  await none.app.close()
  const second = await buildWithLogs(t, {}, config)
  t.match(logEvents(second.logs, 'mfa_challenges_purged'), [{ count: 2 }], 'the two expired ones (kept by the start without purges), not the live one')
})
