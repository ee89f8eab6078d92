import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { issuedAtMs, uuidV7 } from '../../src/tokens/issue-time.js'
import { bearer, build, decodeJwt, join, mypage, NEW_PASSWORD, PASSWORD, post, refresh, tempDir, testConfig, waitFor, type Session } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'
import { buildWithSmtp, resetToken } from '../helpers/smtp.js'

/*
 * A password change, a reset, "log out everywhere", a deactivation, a deletion
 * and the command line's set-password refuse every access token issued before
 * them, at once: on request authentication, forward-auth, verify and
 * introspection, on this instance and on another one sharing the database, a
 * token the keyring remembers as verified included. The pair the operation
 * itself returns works, a token issued earlier in the same second does not.
 */

const SECRET = 'introspection-secret-for-revocation-tests'

/** Every way the service judges an access token: 200/true when accepted. */
async function judged (app: FastifyInstance, access: string) {
  const page = await mypage(app, access)
  const forward = await app.inject({ url: '/account/forward-auth', headers: bearer(access) })
  const verify = await post(app, '/account/token/verify', { token: access })
  const introspect = await post(app, '/account/token/introspect', { token: access }, { authorization: `Bearer ${SECRET}` })
  return { page: page.statusCode, code: page.json().code as string | undefined, forward: forward.statusCode, verify: verify.statusCode, active: introspect.json().active as boolean }
}

const ACCEPTED = { page: 200, code: undefined, forward: 200, verify: 200, active: true }
const REVOKED = { page: 401, code: 'TOKEN_REVOKED', forward: 401, verify: 401, active: false }

t.test('the jti of an access token carries its issue instant to the millisecond', async (t) => {
  const ms = 1_796_000_000_123
  const jti = uuidV7(ms)
  t.match(jti, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.not(uuidV7(ms), jti, 'unique')
  t.equal(issuedAtMs({ jti, iat: 1_796_000_000 }), ms)
  t.equal(issuedAtMs({ jti, iat: 1_796_000_001 }), 1_796_000_001_000, 'an instant outside its iat second is not believed')
  t.equal(issuedAtMs({ jti: 'b0a7e3f4-5d2c-4f8e-9a1b-2c3d4e5f6a7b', iat: 1_796_000_000 }), 1_796_000_000_000, 'a jti of before (v4): the start of its second')
})

t.test('password change: earlier tokens refused everywhere at once, even from the same second; the new pair works', async (t) => {
  // One clock for the service: the login and the change in the same second.
  const base = Math.floor(Date.now() / 1000) * 1000
  let now = base + 100
  const app = await buildApp(testConfig(t, { INTROSPECTION_SECRET: SECRET }), { nowMs: () => now })
  t.teardown(() => app.close())
  await app.ready()
  const session = await join(app)
  t.same(await judged(app, session.access), ACCEPTED, 'used (and remembered by the keyring) before the change')
  now = base + 600
  const changed = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(session.access))
  t.equal(changed.statusCode, 200)
  const { access } = changed.json() as { access: string }
  t.equal(decodeJwt(access).payload.iat, decodeJwt(session.access).payload.iat, 'both issued in the same second')
  t.same(await judged(app, session.access), REVOKED, 'the earlier token is refused')
  t.same(await judged(app, access), ACCEPTED, 'the pair the change returned works')
  const again = await post(app, '/account/password/change', { old_password: NEW_PASSWORD, new_password: PASSWORD }, bearer(session.access))
  t.match({ status: again.statusCode, code: again.json().code }, { status: 401, code: 'TOKEN_REVOKED' })
  t.match(again.headers['www-authenticate'], /^Bearer .*error="invalid_token"/)
})

t.test('log out everywhere refuses the access tokens issued before it', async (t) => {
  const app = await build(t, { INTROSPECTION_SECRET: SECRET })
  const session = await join(app)
  const other = (await post(app, '/account/login', { email: session.email, password: PASSWORD })).json() as { access: string, refresh: string }
  t.same(await judged(app, other.access), ACCEPTED)
  t.equal((await post(app, '/account/logout', { all: true }, bearer(session.access))).statusCode, 200)
  t.same(await judged(app, session.access), REVOKED)
  t.same(await judged(app, other.access), REVOKED)
  t.equal((await refresh(app, other.refresh)).statusCode, 401)
  const fresh = (await post(app, '/account/login', { email: session.email, password: PASSWORD })).json() as { access: string }
  t.same(await judged(app, fresh.access), ACCEPTED, 'a later login works')
})

t.test('password reset refuses the access tokens issued before it; the pair it returns works', async (t) => {
  const { app, smtp } = await buildWithSmtp(t, { INTROSPECTION_SECRET: SECRET })
  const session = await join(app)
  t.same(await judged(app, session.access), ACCEPTED)
  const token = await resetToken(app, smtp, session.email)
  const reset = await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })
  t.equal(reset.statusCode, 200)
  t.same(await judged(app, session.access), REVOKED)
  t.same(await judged(app, (reset.json() as { access: string }).access), ACCEPTED)
})

t.test('deactivation (also after reactivation), deletion and set-password by an operator', async (t) => {
  const app = await build(t, { INTROSPECTION_SECRET: SECRET })
  const { createUserAdmin } = await import('../../src/accounts/admin.js')
  const admin = createUserAdmin({ store: app.store, hasher: app.passwords })
  const user = async (s: Session) => (await app.store.users.byId(s.user.id as string))!

  const a = await join(app)
  t.same(await judged(app, a.access), ACCEPTED)
  await admin.deactivate(await user(a))
  t.match(await judged(app, a.access), { page: 401, forward: 401, verify: 401, active: false }, 'inactive')
  await admin.activate(await user(a))
  t.same(await judged(app, a.access), REVOKED, 'still refused once active again')
  t.same(await judged(app, (await post(app, '/account/login', { email: a.email, password: PASSWORD })).json().access), ACCEPTED)

  const b = await join(app)
  t.same(await judged(app, b.access), ACCEPTED)
  await admin.setPassword(await user(b), NEW_PASSWORD)
  t.same(await judged(app, b.access), REVOKED)

  const c = await join(app)
  t.same(await judged(app, c.access), ACCEPTED)
  t.equal((await app.inject({ method: 'DELETE', url: '/account/mypage', headers: bearer(c.access), payload: { password: PASSWORD } })).statusCode, 200)
  t.match(await judged(app, c.access), { page: 401, forward: 401, verify: 401, active: false })
})

/**
 * Two instances on one database; the token is remembered by the second before
 * the first changes the password. SQLite: the second sees the change at its
 * next request. PostgreSQL: as soon as the change's NOTIFY reaches it
 * (milliseconds after the commit), hence `settle`.
 */
async function twoInstances (t: Test, config: Config, settle: (check: () => Promise<boolean>) => Promise<void> = async () => {}): Promise<void> {
  const first = await build(t, {}, config)
  const second = await build(t, {}, config)
  const session = await join(first)
  t.same(await judged(second, session.access), ACCEPTED, 'the second instance knows (and caches) the user and the token')
  const changed = await post(first, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(session.access))
  t.equal(changed.statusCode, 200)
  await settle(async () => (await mypage(second, session.access)).statusCode === 401)
  t.same(await judged(second, session.access), REVOKED, 'the other instance refuses it at once')
  t.same(await judged(second, (changed.json() as { access: string }).access), ACCEPTED)
  const other = (await post(second, '/account/login', { email: session.email, password: NEW_PASSWORD })).json() as { access: string }
  t.same(await judged(first, other.access), ACCEPTED)
  t.equal((await post(second, '/account/logout', { all: true }, bearer(other.access))).statusCode, 200)
  await settle(async () => (await mypage(first, other.access)).statusCode === 401)
  t.same(await judged(first, other.access), REVOKED, 'log out everywhere, seen by the other instance')
}

t.test('on every instance at once: SQLite', async (t) => {
  const dir = tempDir(t)
  await twoInstances(t, loadConfig({ DATABASE_URL: `file:${dir}/auth.db`, JWT_SECRET: 'r'.repeat(40), LOG_LEVEL: 'silent', COOKIE_SECURE: 'false', INTROSPECTION_SECRET: SECRET, RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_JOIN_MAX: '1000', PRESSURE_MAX_EVENT_LOOP_DELAY: '0' }))
})

t.test('on every instance at once: PostgreSQL', async (t) => {
  const url = await testDatabase(t)
  await twoInstances(t, loadConfig({ DATABASE_URL: url, DATA_DIR: tempDir(t), JWT_SECRET: 'r'.repeat(40), LOG_LEVEL: 'silent', COOKIE_SECURE: 'false', INTROSPECTION_SECRET: SECRET, RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_JOIN_MAX: '1000', PRESSURE_MAX_EVENT_LOOP_DELAY: '0' }), async (check) => {
    await waitFor(check, 'the NOTIFY of the change', 2000)
  })
})

t.test('an instance whose clock lags the one that revoked still issues tokens that work', async (t) => {
  const config = testConfig(t, { INTROSPECTION_SECRET: SECRET })
  const ahead = await buildApp(config, { nowMs: () => Date.now() + 200 })
  t.teardown(() => ahead.close())
  await ahead.ready()
  const behind = await build(t, {}, config)
  const session = await join(behind)
  t.equal((await post(ahead, '/account/logout', { all: true }, bearer(session.access))).statusCode, 200)
  const login = await post(behind, '/account/login', { email: session.email, password: PASSWORD })
  t.equal(login.statusCode, 200)
  t.same(await judged(behind, login.json().access), ACCEPTED, 'issued no earlier than the recorded instant')
  t.same(await judged(behind, session.access), REVOKED)
})
