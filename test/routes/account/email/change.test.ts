import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { bearer, build, deleteMypage, join, login, mypage, NEW_PASSWORD, PASSWORD, post, uniqueEmail } from '../../../helpers/app.js'
import { buildWithSmtp, resetToken } from '../../../helpers/smtp.js'

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

t.test('the address until now gets a notice naming the new address, and how to react', async (t) => {
  const { app, smtp } = await buildWithSmtp(t, { EMAIL_VERIFICATION: 'optional' })
  const s = await join(app)
  await smtp.mailTo(s.email) // the join's verification
  const fresh = uniqueEmail()
  t.equal((await post(app, '/account/email/change', { password: PASSWORD, new_email: fresh }, bearer(s.access))).statusCode, 200)
  const notice = await smtp.mailTo(s.email)
  t.equal(notice.subject, 'A change of your email address was requested')
  t.match(notice.body, new RegExp(`asked to change its login address to ${fresh.replace(/[.]/g, '\\.')}`))
  t.match(notice.body, /If it was not you, .*change your password now .*Changing the password cancels the pending change/)
  t.equal(notice.token, undefined, 'no link: only the new address gets one')
  t.ok((await smtp.mailTo(fresh)).token, 'the new address gets the link')

  // EMAIL_VERIFICATION=none: the change is made at once, and the old address is told so.
  const { app: direct, smtp: sink } = await buildWithSmtp(t)
  const d = await join(direct)
  const changed = uniqueEmail()
  t.equal((await post(direct, '/account/email/change', { password: PASSWORD, new_email: changed }, bearer(d.access))).statusCode, 200)
  const told = await sink.mailTo(d.email)
  t.equal(told.subject, 'Your email address was changed')
  t.match(told.body, new RegExp(`was changed to ${changed.replace(/[.]/g, '\\.')}`))
  t.match(told.body, /contact the service's administrators/)
})

t.test('an email-change link is bound to the password and the address it was asked under', async (t) => {
  const { app, smtp } = await buildWithSmtp(t, { EMAIL_VERIFICATION: 'optional' })
  const verify = async (token: string | undefined) => await post(app, '/account/email/verify', { token })
  /** A user whose join mail was read, and the link of an email change they asked for. */
  const pending = async () => {
    const s = await join(app)
    const joinLink = (await smtp.mailTo(s.email)).token
    const target = uniqueEmail()
    t.equal((await post(app, '/account/email/change', { password: PASSWORD, new_email: target }, bearer(s.access))).statusCode, 200)
    t.equal((await smtp.mailTo(s.email)).subject, 'A change of your email address was requested')
    return { s, joinLink, target, link: (await smtp.mailTo(target)).token }
  }
  const invalid = (t: Test, res: LightMyRequestResponse, why: string): void => {
    t.equal(res.statusCode, 400, why)
    t.equal(res.json().code, 'VERIFICATION_TOKEN_INVALID', why)
  }

  t.test('a password change voids it, and the pending verification of the address too', async (t) => {
    const { s, joinLink, link } = await pending()
    const changed = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(s.access))
    t.equal(changed.statusCode, 200)
    invalid(t, await verify(link), 'the email-change link')
    invalid(t, await verify(joinLink), 'the verification link')
    t.match((await mypage(app, changed.json().access)).json().user, { email: s.email }, 'the address is as it was')
  })

  t.test('a password reset voids it', async (t) => {
    const { s, link } = await pending()
    const token = await resetToken(app, smtp, s.email)
    t.equal((await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })).statusCode, 200)
    invalid(t, await verify(link), 'after a reset')
  })

  t.test('a password changed beside the routes (users set-password) voids it too', async (t) => {
    const { s, link } = await pending()
    await app.store.users.setPassword(String(s.user.id), (await app.store.users.byEmail(s.email))?.passwordHash.replace(/.$/, 'x') ?? '', Math.floor(Date.now() / 1000))
    invalid(t, await verify(link), 'another hash')
  })

  t.test('another email change voids the earlier link; the last one works', async (t) => {
    const { s, link } = await pending()
    const second = uniqueEmail()
    t.equal((await post(app, '/account/email/change', { password: PASSWORD, new_email: second }, bearer(s.access))).statusCode, 200)
    const secondLink = (await smtp.mailTo(second)).token
    invalid(t, await verify(link), 'the earlier link')
    const ok = await verify(secondLink)
    t.equal(ok.statusCode, 200)
    t.match(ok.json().user, { email: second, email_verified: true })
  })

  t.test('an address changed by any other path voids it', async (t) => {
    const { s, link } = await pending()
    await app.store.users.setEmail(String(s.user.id), uniqueEmail(), false)
    invalid(t, await verify(link), 'the address it was asked under is gone')
  })

  t.test('deactivation voids it for good; deletion too', async (t) => {
    const { s, link } = await pending()
    await app.store.users.setActive(String(s.user.id), false)
    invalid(t, await verify(link), 'deactivated')
    await app.store.users.setActive(String(s.user.id), true)
    invalid(t, await verify(link), 'still void once reactivated')

    const other = await pending()
    t.equal((await deleteMypage(app, { password: PASSWORD }, bearer(other.s.access))).statusCode, 200)
    invalid(t, await verify(other.link), 'deleted')
  })

  t.test('untouched, it works', async (t) => {
    const { target, link } = await pending()
    const ok = await verify(link)
    t.equal(ok.statusCode, 200)
    t.match(ok.json().user, { email: target, email_verified: true })
  })
})
