import t from 'tap'
import { bearer, build, deleteMypage, join, login, mypage, PASSWORD, post, uniqueEmail } from '../../../helpers/app.js'
import { buildWithSmtp } from '../../../helpers/smtp.js'

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
  t.equal((await mypage(app, s.access)).json().user.email, fresh)
})

t.test('EMAIL_VERIFICATION=optional: an email change waits for the new address to be verified', async (t) => {
  const { app, smtp } = await buildWithSmtp(t, { EMAIL_VERIFICATION: 'optional' })
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
  t.match(await mypage(app, other.access).then((r) => r.json().user), { email: other.email }, 'nothing changed')
  // The refusal did not use the link up: once the address is free again, it works.
  t.equal((await deleteMypage(app, { password: PASSWORD }, bearer(squatter.access))).statusCode, 200)
  const retried = await post(app, '/account/email/verify', { token: link.token })
  t.equal(retried.statusCode, 200)
  t.match(retried.json().user, { email: wanted, email_verified: true })
})
