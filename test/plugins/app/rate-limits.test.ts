import t from 'tap'
import { bearer, join, PASSWORD, uniqueEmail } from '../../helpers/app.js'
import { buildWithSmtp } from '../../helpers/smtp.js'

t.test('password reset, resend and email change are rate limited per IP and per email', async (t) => {
  const { app } = await buildWithSmtp(t, { RATE_LIMIT_MAIL_MAX: '2', EMAIL_VERIFICATION: 'optional' })
  const s = await join(app)
  const routes: Array<[string, (email: string) => Record<string, string>, Record<string, string>]> = [
    ['/account/password/reset', (email) => ({ email }), {}],
    ['/account/email/resend', (email) => ({ email }), {}],
    // Per new address: the address the mail goes to.
    ['/account/email/change', (email) => ({ password: PASSWORD, new_email: email }), bearer(s.access)]
  ]
  for (const [url, body, headers] of routes) {
    const email = uniqueEmail()
    const fromIp = (ip: string, address = email) => app.inject({ method: 'POST', url, payload: body(address), headers, remoteAddress: ip })
    t.equal((await fromIp('10.0.0.1')).statusCode, 200)
    t.equal((await fromIp('10.0.0.2')).statusCode, 200)
    const limited = await fromIp('10.0.0.3')
    t.equal(limited.statusCode, 429, `${url}: per email, whatever the IP`)
    t.equal(limited.json().code, 'RATE_LIMITED')
    t.ok(Number(limited.headers['retry-after']) > 0)
    t.equal((await fromIp('10.0.0.9', uniqueEmail())).statusCode, 200)
    t.equal((await fromIp('10.0.0.9', uniqueEmail())).statusCode, 200)
    t.equal((await fromIp('10.0.0.9', uniqueEmail())).statusCode, 429, `${url}: per IP, whatever the email`)
  }
  await app.mailer.idle()
})
