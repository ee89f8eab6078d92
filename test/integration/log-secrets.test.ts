import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as OTPAuth from 'otpauth'
import t from 'tap'
import { tempDir } from '../helpers/app.js'
import { Client, type Reply } from '../helpers/http.js'
import { startTestServer, stopServer } from '../helpers/server.js'

/*
 * The whole output of a real server process, from start to exit, at the most
 * verbose level, holds none of the secrets the run used: passwords (right,
 * wrong and new), access and refresh tokens in bodies, headers, cookies and a
 * query string, the CSRF value, the JWT secret, the stored hashes, and of the
 * second factor the TOTP secret, its codes, the recovery codes and the mfa_token.
 */

const PASSWORD = 'log-Secrets-passw0rd-1'
const WRONG = 'Wrong-secret-passw0rd-2'
const NEW_PASSWORD = 'New-secret-passw0rd-3'

const cookiesOf = (res: Reply): Record<string, string> => {
  const list = res.headers['set-cookie'] ?? []
  return Object.fromEntries(list.map((c) => c.split(';')[0]!.split('=')).map(([k, ...v]) => [k!, v.join('=')]))
}

t.test('a whole run\'s log, at trace level, holds none of the secrets it used', async (t) => {
  const dir = tempDir(t)
  const server = await startTestServer(t, { DATABASE_URL: join(dir, 'auth.db'), LOG_LEVEL: 'trace' })
  const client = new Client(server.url, 4)
  t.teardown(() => client.close())
  const secrets: string[] = [PASSWORD, WRONG, NEW_PASSWORD]
  const keep = (...values: Array<string | undefined>): void => { for (const v of values) if (v !== undefined && v !== '') secrets.push(v) }

  const joined = await client.post('/account/join', { email: 'secrets@example.com', password: PASSWORD })
  t.equal(joined.status, 201)
  keep(joined.json.access, joined.json.refresh)
  t.equal((await client.post('/account/login', { email: 'secrets@example.com', password: WRONG })).status, 401)
  const login = await client.post('/account/login', { email: 'secrets@example.com', password: PASSWORD })
  const cookies = cookiesOf(login)
  keep(login.json.access, login.json.refresh, cookies.access_token, cookies.refresh_token, cookies.csrf_token)

  const bearer = { authorization: `Bearer ${login.json.access as string}` }
  t.equal((await client.get('/account/mypage', bearer)).status, 200)
  t.equal((await client.get('/account/mypage', { cookie: `access_token=${cookies.access_token!}` })).status, 200)
  t.equal((await client.get(`/account/mypage?access_token=${login.json.access as string}`, bearer)).status, 200)
  t.equal((await client.get(`/nowhere?token=${login.json.refresh as string}`)).status, 404)
  t.equal((await client.post('/account/token/verify', { token: login.json.refresh })).status, 200)
  t.equal((await client.get('/account/mypage', { authorization: `Bearer ${login.json.refresh as string}x` })).status, 401)

  // Refresh by cookie (CSRF-checked), a replay of the rotated token (grace), the chain
  // moving on, and the first token again (reuse: the family is revoked).
  const cookieHeader = `refresh_token=${cookies.refresh_token!}; csrf_token=${cookies.csrf_token!}`
  const rotated = await client.request('POST', '/account/token/refresh', { headers: { cookie: cookieHeader, 'x-csrf-token': cookies.csrf_token! } })
  t.equal(rotated.status, 200, rotated.body)
  keep(rotated.json.access, rotated.json.refresh, rotated.headers['x-csrf-token'] as string | undefined)
  const replayed = await client.post('/account/token/refresh', { refresh: cookies.refresh_token })
  t.equal(replayed.status, 200, 'a replay inside the grace window')
  keep(replayed.json.access)
  const next = await client.post('/account/token/refresh', { refresh: rotated.json.refresh })
  t.equal(next.status, 200)
  keep(next.json.access, next.json.refresh)
  t.equal((await client.post('/account/token/refresh', { refresh: cookies.refresh_token })).status, 401, 'an older token of the chain is refused (reuse)')

  const changed = await client.post('/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, { authorization: `Bearer ${joined.json.access as string}` })
  t.equal(changed.status, 200)
  keep(changed.json.access, changed.json.refresh)
  // Before the logout, which ends the session (its access token is refused from then on).
  t.equal((await client.post('/account/password/change', { old_password: WRONG, new_password: NEW_PASSWORD }, { authorization: `Bearer ${changed.json.access as string}` })).status, 400)
  t.equal((await client.post('/account/logout', { refresh: changed.json.refresh })).status, 200)

  // The second factor: enrolment, a login in two steps, a wrong code, a recovery code.
  // (A new login: the logout above ended the session of `changed`.)
  const relogin = await client.post('/account/login', { email: 'secrets@example.com', password: NEW_PASSWORD })
  t.equal(relogin.status, 200)
  keep(relogin.json.access, relogin.json.refresh)
  const mfaBearer = { authorization: `Bearer ${relogin.json.access as string}` }
  const setup = await client.post('/account/mfa/totp/setup', undefined, mfaBearer)
  t.equal(setup.status, 200)
  keep(setup.json.secret, setup.json.otpauth_url)
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(setup.json.secret as string) })
  const firstCode = totp.generate()
  const confirmed = await client.post('/account/mfa/totp/confirm', { code: firstCode }, mfaBearer)
  t.equal(confirmed.status, 200)
  const recoveryCodes = confirmed.json.recovery_codes as string[]
  keep(firstCode, ...recoveryCodes)
  const waiting = await client.post('/account/login', { email: 'secrets@example.com', password: NEW_PASSWORD })
  t.equal(waiting.json.code, 'MFA_REQUIRED')
  keep(waiting.json.mfa_token)
  t.equal((await client.post('/account/login/mfa', { mfa_token: waiting.json.mfa_token, code: firstCode })).status, 401, 'a used code')
  const nextCode = totp.generate({ timestamp: Date.now() + 30_000 })
  keep(nextCode)
  const second = await client.post('/account/login/mfa', { mfa_token: waiting.json.mfa_token, code: nextCode })
  t.equal(second.status, 200)
  keep(second.json.access, second.json.refresh)
  const again = await client.post('/account/login', { email: 'secrets@example.com', password: NEW_PASSWORD })
  keep(again.json.mfa_token)
  const byRecovery = await client.post('/account/login/mfa', { mfa_token: again.json.mfa_token, recovery_code: recoveryCodes[0] })
  t.equal(byRecovery.status, 200)
  keep(byRecovery.json.access, byRecovery.json.refresh)

  const { code } = await stopServer(server)
  t.equal(code, 0)
  keep(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim())
  const text = server.lines.join('\n')
  t.ok(server.lines.length > 20, `${server.lines.length} lines written`)
  t.match(text, /"event":"login_failed"/, 'the run was logged (audit lines)')
  t.match(text, /"event":"mfa_failed"/, 'the second factor too')
  t.match(text, /"msg":"request"/, 'the run was logged (request lines)')
  for (const secret of secrets) t.notOk(text.includes(secret), `not in the log: ${secret.slice(0, 10)}…`)
  t.notOk(text.includes('$argon2id$'), 'no password hash')
  t.notOk(/Bearer\s+ey/.test(text), 'no Authorization header value')
})

t.test('failures of the mailer and of the store log no value of what failed', async (t) => {
  const { SMTPServer } = await import('smtp-server')
  const Database = (await import('better-sqlite3')).default
  // The SMTP server refuses every recipient with a reply that quotes it, as real ones do.
  const REPLY_MARKER = 'smtp-reply-quotes-the-mailbox'
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo (address, _session, callback) {
      callback(Object.assign(new Error(`<${address.address}> ${REPLY_MARKER}`), { responseCode: 550 }))
    }
  })
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => smtp.close(() => resolve())))
  const port = (smtp.server.address() as { port: number }).port
  const dir = tempDir(t)
  const file = join(dir, 'auth.db')
  const server = await startTestServer(t, { DATABASE_URL: file, LOG_LEVEL: 'trace', SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_RETRIES: '0', RATE_LIMIT_MAIL_MAX: '100' })
  const client = new Client(server.url, 2)
  t.teardown(() => client.close())
  const email = 'failures@example.com'
  const joined = await client.post('/account/join', { email, password: PASSWORD })
  t.equal(joined.status, 201)
  const waitFor = async (pattern: RegExp): Promise<void> => {
    for (let i = 0; i < 200 && !server.lines.some((l) => pattern.test(l)); i++) await new Promise((resolve) => setTimeout(resolve, 25))
  }

  // 1. The SMTP server refuses the mail: its reply (naming the mailbox) is not logged.
  t.equal((await client.post('/account/password/reset', { email })).status, 200)
  await waitFor(/"event":"mail_failed"/)
  t.match(server.lines.join('\n'), /"event":"mail_failed".*"responseCode":550/, 'the failure is logged with the SMTP reply code')

  // 2. The store refuses the reset token's row, with a message quoting it (a trigger): the mail task fails.
  const db = new Database(file)
  db.exec("CREATE TRIGGER quote_token BEFORE INSERT ON account_tokens BEGIN SELECT RAISE(ABORT, 'token row refused: ' || NEW.id || ' of ' || NEW.user_id); END")
  // 3. And the new password's hash, when a password change stores it.
  db.exec("CREATE TRIGGER quote_hash BEFORE UPDATE OF password_hash ON users BEGIN SELECT RAISE(ABORT, 'hash refused: ' || NEW.password_hash); END")
  db.close()
  t.equal((await client.post('/account/password/reset', { email })).status, 200)
  await waitFor(/"event":"mail_task_failed"/)
  const changed = await client.post('/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, { authorization: `Bearer ${joined.json.access as string}` })
  t.equal(changed.status, 500)
  t.equal(changed.json.code, 'INTERNAL_ERROR')

  const { code } = await stopServer(server)
  t.equal(code, 0)
  const text = server.lines.join('\n')
  t.match(text, /"event":"mail_task_failed".*"reason":"SQLITE_CONSTRAINT_TRIGGER"/, 'the failed task is logged with the driver\'s code')
  t.match(text, /"code":"SQLITE_CONSTRAINT_TRIGGER".*"msg":"unhandled error"/, 'the failed change too')
  t.notOk(text.includes(REPLY_MARKER), 'not the SMTP server\'s reply')
  t.notOk(text.includes('token row refused'), 'not the store\'s message about the token row')
  t.notOk(text.includes('hash refused'), 'nor about the hash')
  t.notOk(text.includes('$argon2id$'), 'no password hash')
  for (const secret of [PASSWORD, NEW_PASSWORD, joined.json.access as string, joined.json.refresh as string]) t.notOk(text.includes(secret), `not in the log: ${secret.slice(0, 10)}…`)
})
