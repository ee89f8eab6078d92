import t from 'tap'
import { bearer, deleteMypage, join, login, mypage, NEW_PASSWORD, PASSWORD, patchMypage, post, refresh, uniqueEmail } from '../../helpers/app.js'
import { testDatabase } from '../../helpers/postgres.js'
import { buildWithSmtp, resetToken } from '../../helpers/smtp.js'

/*
 * Whole account lifecycles across several endpoints, with the mails received
 * by a real SMTP server and the tokens read out of them. Each endpoint's own
 * behaviour is in its file beside this one.
 */

t.test('EMAIL_VERIFICATION=mandatory: no session until the address is verified', async (t) => {
  const { app, smtp, logs } = await buildWithSmtp(t, { EMAIL_VERIFICATION: 'mandatory', MAIL_LANGUAGE: 'ko', EMAIL_VERIFY_URL: 'https://app.example.com/verify' })
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

t.test('the lifecycle on PostgreSQL: verify, edit, change email, reset, delete', async (t) => {
  const url = await testDatabase(t)
  const { app, smtp } = await buildWithSmtp(t, { DATABASE_URL: url, JWT_SECRET: 'postgres-test-secret-0123456789abcdef', EMAIL_VERIFICATION: 'optional' })
  t.equal(app.config.database.kind, 'postgres')
  const s = await join(app)
  t.equal((await post(app, '/account/email/verify', { token: (await smtp.mailTo(s.email)).token })).json().user.email_verified, true)
  t.equal((await patchMypage(app, { name: 'Pg', gender: 'male' }, bearer(s.access))).json().user.name, 'Pg')

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
  t.equal((await deleteMypage(app, { password: NEW_PASSWORD }, bearer(session.access))).statusCode, 200)
  t.equal((await mypage(app, session.access)).json().code, 'TOKEN_INVALID')
  t.equal((await refresh(app, session.refresh)).statusCode, 401)
  const again = await join(app, { email: fresh })
  t.not(again.user.id, s.user.id)
  t.match(again.user, { name: '', gender: null, email_verified: false })
})
