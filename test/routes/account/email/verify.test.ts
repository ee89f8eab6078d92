import t from 'tap'
import { join, login, mypage, post } from '../../../helpers/app.js'
import { buildWithSmtp, resetToken } from '../../../helpers/smtp.js'

t.test('EMAIL_VERIFICATION=optional: join mails a link, verify marks the address', async (t) => {
  const { app, smtp } = await buildWithSmtp(t, { EMAIL_VERIFICATION: 'optional' })
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
  t.equal((await mypage(app, s.access)).json().user.email_verified, true)
  const reuse = await post(app, '/account/email/verify', { token })
  t.equal(reuse.statusCode, 400)
  t.equal(reuse.json().code, 'VERIFICATION_TOKEN_INVALID', 'single use')
  t.equal((await post(app, '/account/email/verify', { token: 'nope' })).json().code, 'VERIFICATION_TOKEN_INVALID')
  t.equal((await post(app, '/account/email/verify', {})).json().code, 'VALIDATION_ERROR')

  // The reset token of an unverified account is not a verification token.
  const u = await join(app)
  await smtp.mailTo(u.email)
  const reset = await resetToken(app, smtp, u.email)
  t.equal((await post(app, '/account/email/verify', { token: reset })).json().code, 'VERIFICATION_TOKEN_INVALID')
})
