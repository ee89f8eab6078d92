import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { bearer, build, buildWithLogs, cookiesOf, join, login, PASSWORD, post, refresh, testConfig, uniqueEmail } from '../../helpers/app.js'
import { freePort } from '../../../bench/lib/service.js'
import { testDatabase } from '../../helpers/postgres.js'
import { parseMail, smtpSink, type SmtpSink } from '../../helpers/smtp.js'

/*
 * The account lifecycle (issue 11) over HTTP: profile edit, email change,
 * deletion, password reset and email verification, with the mails received
 * by a real SMTP server and the tokens read out of them.
 */

const NEW_PASSWORD = 'another-Long-phrase-82'

async function withSmtp (t: Test, env: NodeJS.ProcessEnv = {}): Promise<{ app: FastifyInstance, smtp: SmtpSink, logs: string[], dbPath: string }> {
  const smtp = await smtpSink(t)
  const config = testConfig(t, { LOG_LEVEL: 'info', SMTP_URL: smtp.url, RATE_LIMIT_MAIL_MAX: '1000', ...env })
  const { app, logs } = await buildWithLogs(t, env, config)
  return { app, smtp, logs, dbPath: config.database.kind === 'sqlite' ? config.database.path : '' }
}

const patch = async (app: FastifyInstance, payload: unknown, headers: Record<string, string>) =>
  await app.inject({ method: 'PATCH', url: '/account/mypage', payload: payload as object, headers })
const del = async (app: FastifyInstance, payload: unknown, headers: Record<string, string>) =>
  await app.inject({ method: 'DELETE', url: '/account/mypage', payload: payload as object, headers })
const me = async (app: FastifyInstance, access: string) => await app.inject({ url: '/account/mypage', headers: bearer(access) })

/** Asks for a reset mail for `email` and returns the token it carries. */
async function resetToken (app: FastifyInstance, smtp: SmtpSink, email: string): Promise<string> {
  const res = await post(app, '/account/password/reset', { email })
  if (res.statusCode !== 200) throw new Error(`reset failed: ${res.body}`)
  const token = (await smtp.mailTo(email)).token
  if (token === undefined) throw new Error('no token in the reset mail')
  return token
}

t.test('PATCH /account/mypage', async (t) => {
  const app = await build(t)
  const s = await join(app, { name: 'Ana' })

  t.test('changes only the fields given and answers the updated user', async (t) => {
    const res = await patch(app, { name: 'Ana Lee', gender: 'female', date_of_birth: '1990-04-01', phone_number: '+82 10-1234-5678' }, bearer(s.access))
    t.equal(res.statusCode, 200)
    t.match(res.json().user, { id: s.user.id, email: s.email, name: 'Ana Lee', gender: 'female', date_of_birth: '1990-04-01', phone_number: '+82 10-1234-5678', email_verified: false })
    const again = await patch(app, { phone_number: null }, bearer(s.access))
    t.match(again.json().user, { name: 'Ana Lee', gender: 'female', phone_number: null })
    t.same((await me(app, s.access)).json().user, again.json().user, 'mypage shows the stored change')
    t.equal((await patch(app, {}, bearer(s.access))).statusCode, 200, 'an empty change is allowed')
  })

  t.test('read-only and unknown fields are VALIDATION_ERROR', async (t) => {
    for (const field of ['id', 'email', 'date_joined', 'last_login', 'email_verified', 'password', 'is_staff']) {
      const res = await patch(app, { [field]: 'x' }, bearer(s.access))
      t.equal(res.statusCode, 400, field)
      t.equal(res.json().code, 'VALIDATION_ERROR')
      t.same(res.json().details, [{ field, message: 'is not an allowed field' }])
    }
  })

  t.test('the validation of join applies', async (t) => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'x'.repeat(151) }, 'name'],
      [{ gender: 'other' }, 'gender'],
      [{ date_of_birth: '2001-02-30' }, 'date_of_birth'],
      [{ date_of_birth: '2999-01-01' }, 'date_of_birth'],
      [{ phone_number: 'call me' }, 'phone_number'],
      [{ name: 5 }, 'name']
    ]
    for (const [body, field] of cases) {
      const res = await patch(app, body, bearer(s.access))
      t.equal(res.statusCode, 400, JSON.stringify(body))
      t.equal(res.json().code, 'VALIDATION_ERROR')
      t.equal(res.json().details[0].field, field)
    }
  })

  t.test('needs an access token; by cookie it needs the CSRF header', async (t) => {
    t.equal((await app.inject({ method: 'PATCH', url: '/account/mypage', payload: { name: 'x' } })).json().code, 'TOKEN_MISSING')
    t.equal((await patch(app, { name: 'x' }, bearer(s.refresh))).json().code, 'TOKEN_INVALID')
    const noCsrf = await app.inject({ method: 'PATCH', url: '/account/mypage', payload: { name: 'x' }, cookies: s.cookies })
    t.equal(noCsrf.statusCode, 403)
    t.equal(noCsrf.json().code, 'CSRF_FAILED')
    const withCsrf = await app.inject({ method: 'PATCH', url: '/account/mypage', payload: { name: 'By cookie' }, cookies: s.cookies, headers: { 'x-csrf-token': s.csrf } })
    t.equal(withCsrf.statusCode, 200)
    t.equal(withCsrf.json().user.name, 'By cookie')
  })
})

t.test('POST /account/email/change without verification applies at once', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const other = await join(app)
  const change = async (body: Record<string, unknown>) => await post(app, '/account/email/change', body, bearer(s.access))

  const wrong = await change({ password: 'not-the-password', new_email: uniqueEmail() })
  t.equal(wrong.statusCode, 400)
  t.equal(wrong.json().code, 'INVALID_PASSWORD')

  const taken = await change({ password: PASSWORD, new_email: other.email.toUpperCase() })
  t.equal(taken.statusCode, 409)
  t.equal(taken.json().code, 'EMAIL_TAKEN')

  t.equal((await change({ password: PASSWORD, new_email: 'not-an-email' })).json().code, 'VALIDATION_ERROR')
  t.equal((await change({ password: PASSWORD })).json().code, 'VALIDATION_ERROR')
  t.equal((await post(app, '/account/email/change', { password: PASSWORD, new_email: uniqueEmail() })).json().code, 'TOKEN_MISSING')

  const fresh = uniqueEmail()
  const ok = await change({ password: PASSWORD, new_email: fresh.toUpperCase() })
  t.equal(ok.statusCode, 200)
  t.match(ok.json(), { user: { id: s.user.id, email: fresh, email_verified: false }, detail: 'Email changed.' })
  t.equal((await login(app, s.email)).json().code, 'INVALID_CREDENTIALS', 'the old address no longer logs in')
  t.equal((await login(app, fresh)).statusCode, 200, 'the new one does')
  t.equal((await me(app, s.access)).json().user.email, fresh)
})

t.test('DELETE /account/mypage', async (t) => {
  const app = await build(t)
  const s = await join(app, { name: 'Old name', phone_number: '010 1234' })
  const second = await login(app, s.email)

  const wrong = await del(app, { password: 'not-the-password' }, bearer(s.access))
  t.equal(wrong.statusCode, 400)
  t.equal(wrong.json().code, 'INVALID_PASSWORD')
  t.equal((await del(app, undefined, bearer(s.access))).json().code, 'VALIDATION_ERROR', 'the password is required')
  t.equal((await del(app, { password: PASSWORD, extra: 1 }, bearer(s.access))).json().code, 'VALIDATION_ERROR')
  t.equal((await del(app, { password: PASSWORD }, {})).json().code, 'TOKEN_MISSING')
  const byCookie = await app.inject({ method: 'DELETE', url: '/account/mypage', payload: { password: PASSWORD }, cookies: s.cookies })
  t.equal(byCookie.json().code, 'CSRF_FAILED', 'a cookie-authenticated DELETE needs the CSRF header')
  t.equal((await me(app, s.access)).statusCode, 200, 'nothing was deleted so far')

  const res = await del(app, { password: PASSWORD }, bearer(s.access))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { detail: 'Account deleted.' })
  const cleared = res.cookies.filter((c) => ['access_token', 'refresh_token', 'csrf_token'].includes(c.name))
  t.equal(cleared.length, 3)
  t.ok(cleared.every((c) => c.maxAge === 0), 'the cookies are cleared')

  t.equal((await me(app, s.access)).json().code, 'TOKEN_INVALID', 'its access token stops working')
  t.equal((await refresh(app, s.refresh)).statusCode, 401, 'so do its refresh tokens')
  t.equal((await refresh(app, second.json().refresh)).statusCode, 401, 'of every session')
  t.equal((await login(app, s.email)).json().code, 'INVALID_CREDENTIALS')

  // A new account with the same email is a new user: nothing of the old one.
  const again = await join(app, { email: s.email })
  t.not(again.user.id, s.user.id)
  t.match(again.user, { email: s.email, name: '', phone_number: null })
  t.equal((await refresh(app, s.refresh)).statusCode, 401, 'the old refresh token does not open the new account')
  t.equal((await me(app, s.access)).statusCode, 401, 'nor does the old access token')
  t.equal((await me(app, again.access)).json().user.id, again.user.id)
})

t.test('password reset through a real SMTP server', async (t) => {
  const { app, smtp, logs, dbPath } = await withSmtp(t)

  t.test('same status and body for known and unknown addresses; a mail only for the known one', async (t) => {
    const s = await join(app)
    const unknown = uniqueEmail()
    const a = await post(app, '/account/password/reset', { email: s.email })
    const b = await post(app, '/account/password/reset', { email: unknown })
    t.equal(a.statusCode, 200)
    t.equal(b.statusCode, 200)
    t.equal(a.body, b.body, 'identical bodies')
    t.same(a.json(), { detail: 'If this address belongs to an account, a password reset e-mail has been sent.' })
    await app.mailer.idle()
    const mail = await smtp.mailTo(s.email)
    t.equal(mail.user, 'user', 'SMTP_URL credentials were used')
    t.equal(mail.subject, 'Reset your password')
    t.match(mail.body, /Choose a new password/)
    t.match(mail.body, /<a href="http:\/\/127\.0\.0\.1:3000\/\?token=/, 'an HTML part links to the client page')
    t.match(mail.body, /^http:\/\/127\.0\.0\.1:3000\/\?token=[A-Za-z0-9_-]{43}#reset$/m, 'the text part too; #reset tells the page which form')
    t.ok(mail.token !== undefined && mail.token.length >= 43)
    t.notOk(smtp.mails.some((m) => m.to.includes(unknown)), 'no mail to an unknown address')
    t.notOk(logs.join('').includes(mail.token ?? '-'), 'the token is never logged')
  })

  t.test('confirm: new password, fresh tokens, every old session revoked, single use', async (t) => {
    const s = await join(app)
    const other = await login(app, s.email)
    const token = await resetToken(app, smtp, s.email)

    const weak = await post(app, '/account/password/reset/confirm', { token, new_password: '12345678' })
    t.equal(weak.statusCode, 400)
    t.equal(weak.json().code, 'WEAK_PASSWORD', 'the password policy applies')

    const res = await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })
    t.equal(res.statusCode, 200, 'a weak attempt did not use up the token')
    t.match(res.json(), { access: String, refresh: String })
    t.ok(cookiesOf(res).access_token, 'with the cookies')
    t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED', 'old sessions are revoked')
    t.equal((await refresh(app, other.json().refresh)).json().code, 'TOKEN_REVOKED')
    t.equal((await refresh(app, res.json().refresh)).statusCode, 200, 'the new session works')
    t.equal((await login(app, s.email)).json().code, 'INVALID_CREDENTIALS', 'the old password is gone')
    t.equal((await login(app, s.email, NEW_PASSWORD)).statusCode, 200)
    t.equal((await me(app, res.json().access)).json().user.email_verified, true, 'following the mailed link proved the address')

    const reuse = await post(app, '/account/password/reset/confirm', { token, new_password: 'a-third-Password-71' })
    t.equal(reuse.statusCode, 400)
    t.equal(reuse.json().code, 'RESET_TOKEN_INVALID', 'single use')
    const all = logs.join('')
    t.ok(all.includes('"event":"password_reset"'), 'an audit line for the reset')
    t.notOk(all.includes(token) || all.includes(NEW_PASSWORD) || all.includes(res.json().refresh), 'no token or password in the logs')
  })

  t.test('bad, expired and superseded tokens are RESET_TOKEN_INVALID', async (t) => {
    const confirm = async (token: string) => await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })
    t.equal((await confirm('no-such-token')).json().code, 'RESET_TOKEN_INVALID')
    t.equal((await post(app, '/account/password/reset/confirm', { token: '', new_password: NEW_PASSWORD })).json().code, 'VALIDATION_ERROR')
    t.equal((await post(app, '/account/password/reset/confirm', { token: 'x' })).json().code, 'VALIDATION_ERROR')

    const s = await join(app)
    const expired = await resetToken(app, smtp, s.email)
    const db = new Database(dbPath)
    db.prepare('UPDATE account_tokens SET expires_at = ? WHERE user_id = ?').run(Math.floor(Date.now() / 1000) - 1, s.user.id)
    db.close()
    t.equal((await confirm(expired)).json().code, 'RESET_TOKEN_INVALID', 'expired')

    // Void once the password changed by another path.
    const token = await resetToken(app, smtp, s.email)
    const changed = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'changed-Elsewhere-55' }, bearer(s.access))
    t.equal(changed.statusCode, 200)
    t.equal((await confirm(token)).json().code, 'RESET_TOKEN_INVALID', 'void after a password change')

    // A verification token is not a reset token.
    const v = await post(app, '/account/email/resend', { email: s.email })
    t.equal(v.statusCode, 200)
    const verification = (await smtp.mailTo(s.email)).token ?? ''
    t.equal((await confirm(verification)).json().code, 'RESET_TOKEN_INVALID')
  })

  t.test('a deactivated user gets no mail, with the same answer', async (t) => {
    const s = await join(app)
    await app.store.users.setActive(s.user.id as string, false)
    const res = await post(app, '/account/password/reset', { email: s.email })
    t.equal(res.statusCode, 200)
    t.equal(res.body, (await post(app, '/account/password/reset', { email: uniqueEmail() })).body, 'the answer for an unknown address')
    await app.mailer.idle()
    t.notOk(smtp.mails.some((m) => m.to.includes(s.email)))
    // The same request once the user is active again does mail: the check above could otherwise pass with no mail sent at all.
    await app.store.users.setActive(s.user.id as string, true)
    t.equal((await post(app, '/account/password/reset', { email: s.email })).statusCode, 200)
    t.ok((await smtp.mailTo(s.email)).token, 'reactivated, the same address gets its mail')
  })
})

// A fault while the new password is stored (a trigger refuses the update of
// the hash, as a full disk or a lost connection would fail it): the link must
// stay usable and the account unchanged, on either store.
const PASSWORD_UPDATE_FAULT = {
  sqlite: {
    inject: 'CREATE TRIGGER refuse_password BEFORE UPDATE OF password_hash ON users BEGIN SELECT RAISE(ABORT, \'injected fault\'); END',
    remove: 'DROP TRIGGER refuse_password'
  },
  postgres: {
    inject: `CREATE FUNCTION refuse_password() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
      CREATE TRIGGER refuse_password BEFORE UPDATE OF password_hash ON users FOR EACH ROW EXECUTE FUNCTION refuse_password()`,
    remove: 'DROP TRIGGER refuse_password ON users'
  }
}

for (const kind of ['sqlite', 'postgres'] as const) {
  t.test(`password reset confirm on ${kind} is one transaction: a fault midway leaves the link usable and nothing changed; concurrent confirmations, one wins`, async (t) => {
    const url = kind === 'postgres' ? await testDatabase(t) : undefined
    const { app, smtp, dbPath } = await withSmtp(t, url === undefined ? {} : { DATABASE_URL: url, JWT_SECRET: 'postgres-test-secret-0123456789abcdef' })
    let sql: (text: string) => Promise<void>
    if (url === undefined) {
      const db = new Database(dbPath)
      t.teardown(() => db.close())
      sql = async (text) => { db.exec(text) }
    } else {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      t.teardown(async () => { await client.end() })
      sql = async (text) => { await client.query(text) }
    }
    const s = await join(app)
    const token = await resetToken(app, smtp, s.email)

    await sql(PASSWORD_UPDATE_FAULT[kind].inject)
    const failed = await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })
    t.equal(failed.statusCode, 500, 'the fault answers 500')
    t.equal((await post(app, '/account/token/verify', { token: s.refresh })).statusCode, 200, 'the old session is not revoked')
    t.equal((await me(app, s.access)).json().user.email_verified, false, 'the address is not marked verified')
    t.equal((await login(app, s.email)).statusCode, 200, 'the old password still works')
    await sql(PASSWORD_UPDATE_FAULT[kind].remove)

    const confirms = await Promise.all([1, 2, 3].map(async () => await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })))
    t.same(confirms.map((r) => r.statusCode).sort(), [200, 400, 400], 'the link was not used up by the failed attempt; of concurrent confirmations one wins')
    t.same(confirms.filter((r) => r.statusCode === 400).map((r) => r.json().code), ['RESET_TOKEN_INVALID', 'RESET_TOKEN_INVALID'])
    t.equal((await post(app, '/account/token/verify', { token: s.refresh })).json().code, 'TOKEN_REVOKED', 'now the old session is revoked')
    const session = confirms.find((r) => r.statusCode === 200)?.json()
    t.equal((await me(app, session.access)).json().user.email_verified, true)
    t.equal((await login(app, s.email, NEW_PASSWORD)).statusCode, 200)
  })
}

t.test('password reset, resend and email change are rate limited per IP and per email', async (t) => {
  const { app } = await withSmtp(t, { RATE_LIMIT_MAIL_MAX: '2', EMAIL_VERIFICATION: 'optional' })
  const s = await join(app)
  const routes: Array<[string, (email: string) => Record<string, string>, Record<string, string>]> = [
    ['/account/password/reset', (email) => ({ email }), {}],
    ['/account/email/resend', (email) => ({ email }), {}],
    // Per new address: the address the mail goes to.
    ['/account/email/change', (email) => ({ password: PASSWORD, new_email: email }), bearer(s.access)]
  ]
  for (const [url, body, headers] of routes) {
    const email = uniqueEmail()
    const fromIp = (ip: string, address = email) => app.inject({ method: 'POST', url, payload: body(address), headers, remoteAddress: ip })
    t.equal((await fromIp('10.0.0.1')).statusCode, 200)
    t.equal((await fromIp('10.0.0.2')).statusCode, 200)
    const limited = await fromIp('10.0.0.3')
    t.equal(limited.statusCode, 429, `${url}: per email, whatever the IP`)
    t.equal(limited.json().code, 'RATE_LIMITED')
    t.ok(Number(limited.headers['retry-after']) > 0)
    t.equal((await fromIp('10.0.0.9', uniqueEmail())).statusCode, 200)
    t.equal((await fromIp('10.0.0.9', uniqueEmail())).statusCode, 200)
    t.equal((await fromIp('10.0.0.9', uniqueEmail())).statusCode, 429, `${url}: per IP, whatever the email`)
  }
  await app.mailer.idle()
})

t.test('without SMTP_URL mails are .eml files in <data dir>/outbox (mode 0600), named in a log line', async (t) => {
  const config = testConfig(t, { LOG_LEVEL: 'info' })
  const { app, logs } = await buildWithLogs(t, {}, config)
  const s = await join(app)
  t.equal((await post(app, '/account/password/reset', { email: s.email })).statusCode, 200)
  await app.mailer.idle()
  const outbox = joinPath(config.dataDir, 'outbox')
  const files = readdirSync(outbox)
  t.equal(files.length, 1)
  t.match(files[0], /\.eml$/)
  const file = joinPath(outbox, files[0] ?? '')
  t.equal(statSync(file).mode & 0o777, 0o600, 'the file (it holds a token) is private')
  t.equal(statSync(outbox).mode & 0o077, 0, 'so is the folder')
  const mail = parseMail(readFileSync(file, 'utf8'))
  t.match(mail.raw, new RegExp(`^To: ${s.email}`, 'm'))
  t.match(mail.raw, /^From: "?auth-service"? <no-reply@localhost>/m)
  t.ok(mail.token)
  t.ok(logs.some((l) => l.includes('"event":"mail_written"') && l.includes(file)), 'a log line names the file')
  t.notOk(logs.join('').includes(mail.token ?? '-'), 'without the token')
  const res = await post(app, '/account/password/reset/confirm', { token: mail.token, new_password: NEW_PASSWORD })
  t.equal(res.statusCode, 200, 'the token in the file works')
})

t.test('SMTP down: the request still answers; the failure is logged without the token and counted', async (t) => {
  const port = await freePort()
  const config = testConfig(t, { LOG_LEVEL: 'info', SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_RETRIES: '1' })
  const { app, logs } = await buildWithLogs(t, {}, config)
  const s = await join(app)
  const res = await post(app, '/account/password/reset', { email: s.email })
  t.equal(res.statusCode, 200)
  await app.mailer.idle()
  t.same(app.mailer.stats, { sent: 0, failed: 1 })
  const failed = logs.filter((l) => l.includes('"event":"mail_failed"'))
  t.equal(failed.length, 1, 'one failure line, after the retry')
  t.match(JSON.parse(failed[0] ?? '{}'), { level: 50, template: 'password_reset', userId: s.user.id, attempts: 2, reason: 'ESOCKET' })
  t.notOk(logs.join('').includes('token='), 'no link, no token in the logs')
  const db = new Database(config.database.kind === 'sqlite' ? config.database.path : '')
  const rows = db.prepare('SELECT id FROM account_tokens WHERE user_id = ?').all(s.user.id) as Array<{ id: string }>
  db.close()
  t.equal(rows.length, 1)
  t.notOk(logs.join('').includes(rows[0]?.id ?? '-'), 'nor its stored hash')
})

t.test('EMAIL_VERIFICATION=optional: join mails a link, verify marks the address', async (t) => {
  const { app, smtp } = await withSmtp(t, { EMAIL_VERIFICATION: 'optional' })
  const s = await join(app)
  t.equal(s.user.email_verified, false)
  t.ok(s.access, 'join still logs in')
  const mail = await smtp.mailTo(s.email)
  t.equal(mail.subject, 'Confirm your email address')
  t.match(mail.body, /^http:\/\/127\.0\.0\.1:3000\/\?token=[A-Za-z0-9_-]{43}#verify$/m)
  const token = mail.token ?? ''
  t.equal((await login(app, s.email)).statusCode, 200, 'an unverified user may log in')

  const res = await post(app, '/account/email/verify', { token })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { user: { id: s.user.id, email: s.email, email_verified: true }, detail: 'Email verified.' })
  t.equal((await me(app, s.access)).json().user.email_verified, true)
  const reuse = await post(app, '/account/email/verify', { token })
  t.equal(reuse.statusCode, 400)
  t.equal(reuse.json().code, 'VERIFICATION_TOKEN_INVALID', 'single use')
  t.equal((await post(app, '/account/email/verify', { token: 'nope' })).json().code, 'VERIFICATION_TOKEN_INVALID')
  t.equal((await post(app, '/account/email/verify', {})).json().code, 'VALIDATION_ERROR')

  // Resend: an answer for everybody, a mail only to an unverified account.
  const u = await join(app)
  await smtp.mailTo(u.email)
  const r1 = await post(app, '/account/email/resend', { email: s.email })
  const r2 = await post(app, '/account/email/resend', { email: uniqueEmail() })
  const r3 = await post(app, '/account/email/resend', { email: u.email })
  t.same([r1.statusCode, r2.statusCode, r3.statusCode], [200, 200, 200])
  t.equal(r1.body, r2.body)
  t.equal(r1.body, r3.body)
  await app.mailer.idle()
  t.same(smtp.mails.map((m) => m.to), [[u.email]], 'only the unverified account got a new mail')
  const resent = await smtp.mailTo(u.email)
  t.equal((await post(app, '/account/email/verify', { token: resent.token })).statusCode, 200)

  // The reset token is not a verification token.
  const reset = await resetToken(app, smtp, u.email)
  t.equal((await post(app, '/account/email/verify', { token: reset })).json().code, 'VERIFICATION_TOKEN_INVALID')
})

t.test('EMAIL_VERIFICATION=optional: an email change waits for the new address to be verified', async (t) => {
  const { app, smtp } = await withSmtp(t, { EMAIL_VERIFICATION: 'optional' })
  const s = await join(app)
  const first = await smtp.mailTo(s.email) // the join's verification of the old address
  const fresh = uniqueEmail()
  const res = await post(app, '/account/email/change', { password: PASSWORD, new_email: fresh }, bearer(s.access))
  t.equal(res.statusCode, 200)
  t.match(res.json(), { user: { email: s.email }, detail: /Verification e-mail sent to the new address/ })
  const mail = await smtp.mailTo(fresh)
  t.equal(mail.subject, 'Confirm your new email address')
  t.equal((await login(app, fresh)).json().code, 'INVALID_CREDENTIALS', 'not used to log in before it is verified')
  t.equal((await login(app, s.email)).statusCode, 200, 'the old address still works')

  const verified = await post(app, '/account/email/verify', { token: mail.token })
  t.equal(verified.statusCode, 200)
  t.match(verified.json().user, { email: fresh, email_verified: true })
  t.equal((await login(app, fresh)).statusCode, 200, 'the new address logs in once verified')
  t.equal((await login(app, s.email)).json().code, 'INVALID_CREDENTIALS')
  t.equal((await post(app, '/account/email/verify', { token: first.token })).json().code, 'VERIFICATION_TOKEN_INVALID',
    'a link proving the old address is void once the address changed')

  // Someone else took the address between the request and the click.
  const other = await join(app)
  await smtp.mailTo(other.email)
  const wanted = uniqueEmail()
  await post(app, '/account/email/change', { password: PASSWORD, new_email: wanted }, bearer(other.access))
  const link = await smtp.mailTo(wanted)
  const squatter = await join(app, { email: wanted })
  await smtp.mailTo(wanted)
  const taken = await post(app, '/account/email/verify', { token: link.token })
  t.equal(taken.statusCode, 409)
  t.equal(taken.json().code, 'EMAIL_TAKEN')
  t.match(await me(app, other.access).then((r) => r.json().user), { email: other.email }, 'nothing changed')
  // The refusal did not use the link up: once the address is free again, it works.
  t.equal((await del(app, { password: PASSWORD }, bearer(squatter.access))).statusCode, 200)
  const retried = await post(app, '/account/email/verify', { token: link.token })
  t.equal(retried.statusCode, 200)
  t.match(retried.json().user, { email: wanted, email_verified: true })
})

t.test('EMAIL_VERIFICATION=mandatory: no session until the address is verified', async (t) => {
  const { app, smtp, logs } = await withSmtp(t, { EMAIL_VERIFICATION: 'mandatory', MAIL_LANGUAGE: 'ko', EMAIL_VERIFY_URL: 'https://app.example.com/verify' })
  const email = uniqueEmail()
  const res = await post(app, '/account/join', { email, password: PASSWORD })
  t.equal(res.statusCode, 201)
  t.match(res.json(), { user: { email, email_verified: false, last_login: null }, detail: 'Verification e-mail sent.' })
  t.notOk('access' in res.json(), 'no tokens')
  t.same(res.cookies, [], 'no cookies')

  const refused = await login(app, email)
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'EMAIL_NOT_VERIFIED')
  t.equal((await login(app, email, 'wrong-Password-99')).json().code, 'INVALID_CREDENTIALS', 'only revealed to whoever knows the password')

  const mail = await smtp.mailTo(email)
  t.equal(mail.subject, '이메일 주소를 확인해 주세요', 'MAIL_LANGUAGE=ko')
  t.match(mail.body, /이메일 주소 확인하기/)
  t.match(mail.body, /^https:\/\/app\.example\.com\/verify\?token=[A-Za-z0-9_-]{43}$/m, 'EMAIL_VERIFY_URL, exactly <url>?token=')
  t.equal((await post(app, '/account/email/verify', { token: mail.token })).statusCode, 200)
  const ok = await login(app, email)
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().user.email_verified, true)
  t.equal((await refresh(app, ok.json().refresh)).statusCode, 200)
  t.notOk(logs.join('').includes(mail.token ?? '-'))
})

t.test('EMAIL_VERIFICATION=mandatory refuses the refresh of an unverified user', async (t) => {
  const config = testConfig(t)
  const before = await build(t, {}, config)
  const s = await join(before)
  await before.close()
  const app = await build(t, {}, { ...config, emailVerification: 'mandatory' })
  const res = await refresh(app, s.refresh)
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'EMAIL_NOT_VERIFIED')
  t.equal((await login(app, s.email)).json().code, 'EMAIL_NOT_VERIFIED')
})

t.test('the lifecycle on PostgreSQL: verify, edit, change email, reset, delete', async (t) => {
  const url = await testDatabase(t)
  const { app, smtp } = await withSmtp(t, { DATABASE_URL: url, JWT_SECRET: 'postgres-test-secret-0123456789abcdef', EMAIL_VERIFICATION: 'optional' })
  t.equal(app.config.database.kind, 'postgres')
  const s = await join(app)
  t.equal((await post(app, '/account/email/verify', { token: (await smtp.mailTo(s.email)).token })).json().user.email_verified, true)
  t.equal((await patch(app, { name: 'Pg', gender: 'male' }, bearer(s.access))).json().user.name, 'Pg')

  const fresh = uniqueEmail()
  t.equal((await post(app, '/account/email/change', { password: PASSWORD, new_email: fresh }, bearer(s.access))).statusCode, 200)
  t.equal((await post(app, '/account/email/verify', { token: (await smtp.mailTo(fresh)).token })).json().user.email, fresh)

  const token = await resetToken(app, smtp, fresh)
  const [a, b] = await Promise.all([
    post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD }),
    post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })
  ])
  t.same([a.statusCode, b.statusCode].sort(), [200, 400], 'two confirmations with one token: one wins')
  t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED')
  const session = (a.statusCode === 200 ? a : b).json()
  t.equal((await del(app, { password: NEW_PASSWORD }, bearer(session.access))).statusCode, 200)
  t.equal((await me(app, session.access)).json().code, 'TOKEN_INVALID')
  t.equal((await refresh(app, session.refresh)).statusCode, 401)
  const again = await join(app, { email: fresh })
  t.not(again.user.id, s.user.id)
  t.match(again.user, { name: '', gender: null, email_verified: false })
})

t.test('the OpenAPI document lists the new endpoints with their bodies and answers', async (t) => {
  const app = await build(t)
  const doc = (await app.inject({ url: '/openapi.json' })).json()
  t.ok(doc.paths['/account/mypage'].patch.requestBody)
  t.ok(doc.paths['/account/mypage'].delete.requestBody)
  for (const path of ['/account/email/change', '/account/email/verify', '/account/email/resend', '/account/password/reset', '/account/password/reset/confirm']) {
    t.ok(doc.paths[path]?.post?.requestBody, path)
    t.ok(doc.paths[path]?.post?.responses?.['200'], `${path} 200`)
    t.ok(doc.paths[path]?.post?.responses?.['400'], `${path} 400`)
  }
})
