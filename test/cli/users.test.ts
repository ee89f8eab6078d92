import { join } from 'node:path'
import * as OTPAuth from 'otpauth'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { cli } from '../helpers/cli.js'
import { bearer, join as joinUser, login, post, tempDir } from '../helpers/app.js'

/*
 * users mfa-reset: an operator turns a user's TOTP off (a lost device); the
 * next login asks for the password only, and one audit line says so.
 */

t.test('users mfa-reset: TOTP off, logins without a code, one audit line; a second run says there was none', async (t) => {
  const env = { DATABASE_URL: `file:${join(tempDir(t), 'auth.db')}`, JWT_SECRET: 'x'.repeat(40), COOKIE_SECURE: 'false', RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_JOIN_MAX: '1000' }
  const app = await buildApp(loadConfig({ ...env, LOG_LEVEL: 'silent' }))
  t.teardown(() => app.close())
  const s = await joinUser(app)
  const { secret } = (await post(app, '/account/mfa/totp/setup', undefined, bearer(s.access))).json()
  const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate()
  t.equal((await post(app, '/account/mfa/totp/confirm', { code }, bearer(s.access))).statusCode, 200)
  t.equal((await login(app, s.email)).json().code, 'MFA_REQUIRED')

  const res = await cli(['users', 'mfa-reset', s.email.toUpperCase()], env)
  t.equal(res.code, 0, res.err)
  t.equal(res.out.trim(), `${s.email}: TOTP turned off, recovery codes deleted`)
  const audit = res.err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.equal(audit.length, 1, 'one audit line')
  t.match(audit[0], { level: 30, event: 'mfa_disabled', userId: s.user.id, by: 'users mfa-reset' })
  t.notOk(res.err.includes(secret), 'never the secret')

  t.equal((await login(app, s.email)).statusCode, 200, 'the password alone logs in again')
  t.same((await app.inject({ url: '/account/mfa', headers: bearer(s.access) })).json(), { totp: { enabled: false, created_at: null }, recovery_codes_left: 0 })

  const again = await cli(['users', 'mfa-reset', s.email], env)
  t.equal(again.code, 0)
  t.equal(again.out.trim(), `${s.email} had no TOTP`)
  t.notMatch(again.err, /mfa_disabled/, 'no audit line when nothing changed')
  const unknown = await cli(['users', 'mfa-reset', 'nobody@example.test'], env)
  t.equal(unknown.code, 1)
})
