import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { buildWithLogs, join, NEW_PASSWORD, post, sqlitePath, testConfig } from '../../helpers/app.js'
import { freePort } from '../../../bench/lib/service.js'
import { parseMail } from '../../helpers/smtp.js'

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
  const db = new Database(sqlitePath(config))
  const rows = db.prepare('SELECT id FROM account_tokens WHERE user_id = ?').all(s.user.id) as Array<{ id: string }>
  db.close()
  t.equal(rows.length, 1)
  t.notOk(logs.join('').includes(rows[0]?.id ?? '-'), 'nor its stored hash')
})
