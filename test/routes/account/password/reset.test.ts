import t from 'tap'
import { join, post, uniqueEmail } from '../../../helpers/app.js'
import { buildWithSmtp } from '../../../helpers/smtp.js'

t.test('POST /account/password/reset through a real SMTP server', async (t) => {
  const { app, smtp, logs } = await buildWithSmtp(t)

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
