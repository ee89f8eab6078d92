import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createMailer, type MailLog } from '../../src/mail/mailer.js'
import { renderMail, renderNotice } from '../../src/mail/templates.js'
import { tempDir } from '../helpers/app.js'
import { freePort } from '../../bench/lib/service.js'
import { smtpSink } from '../helpers/smtp.js'

/** A MailLog keeping its lines. */
function memoryLog (): MailLog & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  return {
    lines,
    info: (obj, msg) => { lines.push({ level: 'info', ...obj, msg }) },
    error: (obj, msg) => { lines.push({ level: 'error', ...obj, msg }) }
  }
}

const mail = (to: string) => ({ to, ...renderMail('password_reset', 'en', { link: 'http://x/?token=SECRET', email: to, lifetime: 3600 }), about: { template: 'password_reset', userId: 'u1' } })

t.test('templates: both languages, text and HTML, the validity in words, values escaped', async (t) => {
  const en = renderMail('email_verification', 'en', { link: 'https://a.example/?token=abc&x="1"', email: 'ana@example.com', lifetime: 3 * 86400 })
  t.equal(en.subject, 'Confirm your email address')
  t.match(en.text, /^Please confirm that ana@example\.com is your email address\./)
  t.match(en.text, /https:\/\/a\.example\/\?token=abc&x="1"/, 'the text part has the link as is')
  t.match(en.text, /valid for 3 days/)
  t.match(en.html, /href="https:\/\/a\.example\/\?token=abc&amp;x=&quot;1&quot;"/, 'the HTML part escapes it')
  const ko = renderMail('password_reset', 'ko', { link: 'https://a.example/?token=t', email: 'b@example.com', lifetime: 3600 })
  t.equal(ko.subject, '비밀번호 재설정')
  t.match(ko.text, /1시간 동안 한 번만/)
  t.match(ko.html, /<html lang="ko">/)
  t.match(renderMail('password_reset', 'en', { link: 'l', email: 'e', lifetime: 1800 }).text, /valid for 30 minutes/)
  t.match(renderMail('email_change', 'en', { link: 'l', email: 'e', lifetime: 3600 }).text, /valid for 1 hour /)
})

t.test('notices: the email change, in both languages, naming the new address, with how to react, escaped', async (t) => {
  const values = { email: 'old@example.com', newEmail: 'new<b>@example.com' }
  const en = renderNotice('email_change_requested', 'en', values)
  t.equal(en.subject, 'A change of your email address was requested')
  t.match(en.text, /account old@example\.com asked to change its login address to new<b>@example\.com/)
  t.match(en.text, /If it was not you, .*change your password now/)
  t.match(en.html, /new&lt;b&gt;@example\.com/, 'escaped in HTML')
  t.notMatch(en.html, /new<b>/)
  t.notMatch(en.text, /https?:/, 'no link')
  const changed = renderNotice('email_changed', 'en', values)
  t.equal(changed.subject, 'Your email address was changed')
  t.match(changed.text, /contact the service's administrators/)
  const ko = renderNotice('email_change_requested', 'ko', values)
  t.equal(ko.subject, '이메일 주소 변경이 요청되었습니다')
  t.match(ko.text, /new<b>@example\.com/)
  t.match(renderNotice('email_changed', 'ko', values).text, /서비스 관리자/)
})

t.test('SMTP: delivered, counted, logged without the link', async (t) => {
  const smtp = await smtpSink(t)
  const log = memoryLog()
  const mailer = createMailer({ config: { smtpUrl: smtp.url, from: 'Auth <auth@example.com>', language: 'en', retries: 0, outboxDir: tempDir(t) }, log })
  t.teardown(() => mailer.close())
  mailer.send(mail('a@example.com'))
  await mailer.idle()
  t.same(mailer.stats, { sent: 1, failed: 0 })
  const received = await smtp.mailTo('a@example.com')
  t.equal(received.token, 'SECRET')
  t.match(received.raw, /^From: Auth <auth@example\.com>/m)
  t.match(log.lines, [{ level: 'info', event: 'mail_sent', template: 'password_reset', userId: 'u1' }])
  t.notMatch(JSON.stringify(log.lines), /SECRET/)
})

t.test('a server that is down: retried with backoff, then given up, logged and counted', async (t) => {
  const port = await freePort()
  const log = memoryLog()
  const mailer = createMailer({ config: { smtpUrl: `smtp://127.0.0.1:${port}`, from: 'a@b.c', language: 'en', retries: 2, outboxDir: tempDir(t) }, log, retryDelay: 5 })
  t.teardown(() => mailer.close())
  mailer.send(mail('a@example.com'))
  await mailer.idle()
  t.same(mailer.stats, { sent: 0, failed: 1 })
  t.match(log.lines.map((l) => [l.event, l.attempts]), [['mail_retry', 1], ['mail_retry', 2], ['mail_failed', 3]], 'two retries, then given up')
  t.match(log.lines.filter((l) => l.event === 'mail_retry').map((l) => l.delay), [5, 10], 'exponential backoff')
  t.match(log.lines.at(-1), { level: 'error', template: 'password_reset', userId: 'u1' })
  t.notMatch(JSON.stringify(log.lines), /SECRET|token=/)
})

t.test('closing gives up a pending retry (logged) and idle resolves', async (t) => {
  const port = await freePort()
  const log = memoryLog()
  const mailer = createMailer({ config: { smtpUrl: `smtp://127.0.0.1:${port}`, from: 'a@b.c', language: 'en', retries: 5, outboxDir: tempDir(t) }, log, retryDelay: 60_000 })
  mailer.send(mail('a@example.com'))
  // The first attempt fails at once (nothing listens); its retry is then due in a minute.
  while (!log.lines.some((l) => l.event === 'mail_retry')) await new Promise((resolve) => setTimeout(resolve, 10))
  await mailer.close()
  await mailer.idle()
  t.same(mailer.stats, { sent: 0, failed: 1 })
  t.match(log.lines.filter((l) => l.event === 'mail_failed'), [{ level: 'error', reason: 'SHUTDOWN', template: 'password_reset' }])
})

t.test('outbox: one .eml file per mail, mode 0600; later() tasks count for idle and their failures are logged', async (t) => {
  const dir = join(tempDir(t), 'outbox')
  const log = memoryLog()
  const mailer = createMailer({ config: { smtpUrl: undefined, from: 'a@b.c', language: 'en', retries: 0, outboxDir: dir }, log })
  t.teardown(() => mailer.close())
  mailer.later('two mails', async () => { mailer.send(mail('a@example.com')); mailer.send(mail('b@example.com')) })
  mailer.later('broken', async () => { throw Object.assign(new Error('disk on fire'), { code: 'EIO' }) })
  await mailer.idle()
  t.equal(readdirSync(dir).filter((f) => f.endsWith('.eml')).length, 2)
  t.same(mailer.stats, { sent: 2, failed: 0 })
  t.match(log.lines.filter((l) => l.event === 'mail_task_failed'), [{ task: 'broken', reason: 'EIO' }])
})
