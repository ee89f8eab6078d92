import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config.js'
import { cli } from '../helpers/cli.js'
import { build, join as joinUser, login, NEW_PASSWORD, post, tempDir } from '../helpers/app.js'

/*
 * mail list / mail show read the outbox an app on the same data directory
 * wrote (no SMTP_URL): decoded, latest first, each link on a line of its own.
 */

type Env = Record<string, string>
const envFor = (t: Test, extra: Env = {}): Env => ({ DATABASE_URL: `file:${join(tempDir(t), 'auth.db')}`, JWT_SECRET: 'x'.repeat(40), COOKIE_SECURE: 'false', PUBLIC_URL: 'http://auth.example.test/', ...extra })
const appOn = async (t: Test, env: Env) => await build(t, {}, loadConfig({ ...env, LOG_LEVEL: 'silent' }))

t.test('mail show: the latest mail decoded, its link on a line of its own, its token usable as it is', async (t) => {
  const env = envFor(t)
  const app = await appOn(t, env)
  const s = await joinUser(app)
  t.equal((await post(app, '/account/password/reset', { email: s.email })).statusCode, 200)
  await app.mailer.idle()
  const dir = app.config.mail.outboxDir
  const raw = readFileSync(join(dir, readdirSync(dir)[0] ?? ''), 'utf8')
  t.match(raw, /quoted-printable/, 'the file itself is quoted-printable')
  t.match(raw, /token=3D/, 'where a token copied by hand would carry "3D"')

  const shown = await cli(['mail', 'show'], env)
  t.equal(shown.code, 0, shown.err)
  t.match(shown.out, new RegExp(`^To:\\s+${s.email.replace(/[.+]/g, '\\$&')}$`, 'm'))
  t.match(shown.out, /^Subject: Reset your password$/m)
  t.notMatch(shown.out, /=3D|=\n/, 'decoded: no quoted-printable left')
  const lines = shown.out.split('\n')
  const links = lines.slice(lines.indexOf('Links:') + 1).filter((l) => l.startsWith('http'))
  t.equal(links.length, 1)
  t.match(links[0], /^http:\/\/auth\.example\.test\/\?token=[\w-]{43}#reset$/, 'the whole link, alone on its line')
  const token = /^Token: ([\w-]{43})$/m.exec(shown.out)?.[1]
  t.ok(token)
  t.equal(new URL(links[0] ?? '').searchParams.get('token'), token)

  const asJson = JSON.parse((await cli(['mail', 'show', '1', '--json'], env)).out) as { to: string, subject: string, links: string[], token: string, text: string, date: string }
  t.match(asJson, { to: s.email, subject: 'Reset your password', token, links })
  t.ok(!Number.isNaN(Date.parse(asJson.date)), 'an ISO date')
  const confirmed = await post(app, '/account/password/reset/confirm', { token: asJson.token, new_password: NEW_PASSWORD })
  t.equal(confirmed.statusCode, 200, 'the token as shown resets the password')
  t.equal((await login(app, s.email, NEW_PASSWORD)).statusCode, 200)
})

t.test('mail list: latest first, numbered for mail show; --limit, --json; headers decoded (Korean subject)', async (t) => {
  const env = envFor(t, { MAIL_LANGUAGE: 'ko', EMAIL_VERIFICATION: 'optional' })
  const empty = await cli(['mail', 'list'], env)
  t.equal(empty.code, 0)
  t.equal(empty.out, '')
  t.match(empty.err, /^no mails in .*outbox$/)
  const app = await appOn(t, env)
  const a = await joinUser(app)
  await app.mailer.idle()
  await post(app, '/account/password/reset', { email: a.email })
  await app.mailer.idle()
  const all = await cli(['mail', 'list'], env)
  t.equal(all.code, 0, all.err)
  const rows = all.out.split('\n').map((l) => l.split('\t'))
  t.same(rows.map((r) => [r[0], r[2], r[3]]), [['1', a.email, '비밀번호 재설정'], ['2', a.email, '이메일 주소를 확인해 주세요']], 'the reset (latest) first')
  t.ok(!Number.isNaN(Date.parse(rows[0]?.[1] ?? '')), 'when')
  const one = await cli(['mail', 'list', '--limit', '1', '--json'], env)
  t.match(JSON.parse(one.out), { n: 1, to: a.email, subject: '비밀번호 재설정' })
  t.equal(one.err, '1 older mail(s) not shown (--limit)')
  const second = await cli(['mail', 'show', '2'], env)
  t.match(second.out, /^Subject: 이메일 주소를 확인해 주세요$/m)
  t.match(second.out, /^http:\/\/auth\.example\.test\/\?token=[\w-]{43}#verify$/m)
  const verified = await post(app, '/account/email/verify', { token: /^Token: (\S+)$/m.exec(second.out)?.[1] })
  t.equal(verified.statusCode, 200, 'the verification token as shown verifies')
})

t.test('mail show: its errors', async (t) => {
  const env = envFor(t)
  const none = await cli(['mail', 'show'], env)
  t.equal(none.code, 1)
  t.match(none.err, /^error: no mails in /)
  const app = await appOn(t, env)
  const s = await joinUser(app)
  await post(app, '/account/password/reset', { email: s.email })
  await app.mailer.idle()
  const beyond = await cli(['mail', 'show', '3'], env)
  t.equal(beyond.code, 1)
  t.equal(beyond.err, 'error: no mail 3: the outbox holds 1')
  for (const bad of ['0', 'x', '-1']) {
    const res = await cli(['mail', 'show', bad], env)
    t.equal(res.code, 2, bad)
    t.match(res.err, /^error: N must be a whole number from 1/, bad)
  }
  t.equal((await cli(['mail', 'show', '1', '2'], env)).code, 2)
  const smtp = await cli(['mail', 'list'], { ...env, SMTP_URL: 'smtp://127.0.0.1:25' })
  t.equal(smtp.code, 0)
  t.match(smtp.err, /^note: SMTP_URL is set/)
})
