import t from 'tap'
import { join, post, uniqueEmail } from '../../../helpers/app.js'
import { buildWithSmtp } from '../../../helpers/smtp.js'

t.test('EMAIL_VERIFICATION=optional: resend answers everybody alike and mails only an unverified account', async (t) => {
  const { app, smtp } = await buildWithSmtp(t, { EMAIL_VERIFICATION: 'optional' })
  const s = await join(app)
  t.equal((await post(app, '/account/email/verify', { token: (await smtp.mailTo(s.email)).token })).statusCode, 200, 'one account verified')
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
})
