/*
 * The account lifecycle on the client page, in Debian's headless Chromium
 * (driven as in browser.test.ts): profile editing, email change, "Forgot
 * password?" and the reset link, the verification link, account deletion.
 * Mails go to a real SMTP server (smtp-server); the page opens the links they
 * carry, exactly as received.
 */
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { greetingFor, isPath, launchChromium, logIn, checkScreenshot, visible } from '../helpers/browser.js'
import { join, NEW_PASSWORD, PASSWORD, testConfig, uniqueEmail } from '../helpers/app.js'
import { freePort } from '../../bench/lib/service.js'
import { smtpSink } from '../helpers/smtp.js'

const browser = await launchChromium(t)
if (browser !== undefined) {
  const smtp = await smtpSink(t)
  // The mails link to the service's own page, so it must know its address
  // (PUBLIC_URL) before it listens: a free port, asked of the OS.
  const port = await freePort()
  const origin = `http://localhost:${port}`
  const app = await buildApp(testConfig(t, {
    PORT: String(port), PUBLIC_URL: `${origin}/`, SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'optional', RATE_LIMIT_MAIL_MAX: '1000'
  }))
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(() => app.close())

  const open = async (url: string) => {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (msg) => { if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text()) })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    await page.goto(url)
    return { page, context, problems }
  }

  /** A new account (its verification mail taken) logged in on the client page. */
  const signedIn = async () => {
    const { email } = await join(app)
    await smtp.mailTo(email)
    const opened = await open(`${origin}/`)
    await logIn(opened.page, email)
    await opened.page.waitForSelector(visible('signed-in'))
    return { email, ...opened }
  }

  t.test('the profile form edits the profile (PATCH with the CSRF header)', async (t) => {
    const { page, context, problems } = await signedIn()
    t.equal(await page.inputValue('#profile-form [name="name"]'), '', 'the form starts from the profile')
    await page.fill('#profile-form [name="name"]', 'Bora')
    await page.selectOption('#profile-form [name="gender"]', 'female')
    await page.fill('#profile-form [name="phone_number"]', '010-1234-5678')
    const [saved] = await Promise.all([page.waitForResponse(isPath('/account/mypage', 'PATCH')), page.click('#profile-form button[type="submit"]')])
    t.equal(saved.status(), 200)
    t.ok((saved.request().headers()['x-csrf-token'] ?? '').length > 20, 'X-CSRF-Token sent')
    await page.waitForSelector('#profile-form .notice:not([hidden])')
    t.equal(await page.textContent('#profile dd[data-field="name"]'), 'Bora')
    t.equal(await page.textContent('#profile dd[data-field="phone_number"]'), '010-1234-5678')
    t.equal(await page.textContent('#profile dd[data-field="email_verified"]'), 'no')

    await page.fill('#profile-form [name="date_of_birth"]', '2999-01-01')
    const [refused] = await Promise.all([page.waitForResponse(isPath('/account/mypage', 'PATCH')), page.click('#profile-form button[type="submit"]')])
    t.equal(refused.status(), 400)
    await page.waitForSelector('#profile-form .error:not([hidden])')
    t.equal(await page.getAttribute('#profile-form [name="date_of_birth"]', 'aria-invalid'), 'true', 'the field is marked')
    t.same(problems, [])
    await context.close()
  })

  t.test('"Forgot password?" mails a link; the link opens the new-password form and signs in', async (t) => {
    const { email } = await join(app)
    await smtp.mailTo(email)
    const { page, context, problems } = await open(`${origin}/`)
    await page.waitForSelector(visible('signed-out'))
    await page.fill('#login-form [name="email"]', email)
    await page.click('#forgot-button')
    t.equal(await page.inputValue('#forgot-form [name="email"]'), email, 'the email is carried over')
    const [asked] = await Promise.all([page.waitForResponse(isPath('/account/password/reset', 'POST')), page.click('#forgot-form button[type="submit"]')])
    t.equal(asked.status(), 200)
    await page.waitForSelector('#forgot-form .notice:not([hidden])')
    t.match(await page.textContent('#forgot-form .notice'), /password reset e-mail has been sent/)

    const mail = await smtp.mailTo(email)
    const link = /^(http:\/\/\S+#reset)$/m.exec(mail.body)?.[1] ?? ''
    t.ok(link.startsWith(`${origin}/?token=`), 'the link opens this page')
    await page.goto(link)
    await page.waitForSelector(visible('reset'))
    await page.fill('#reset-form [name="new_password"]', '12345678')
    const [weak] = await Promise.all([page.waitForResponse(isPath('/account/password/reset/confirm', 'POST')), page.click('#reset-form button[type="submit"]')])
    t.equal(((await weak.json()) as { code: string }).code, 'WEAK_PASSWORD')
    await page.waitForSelector('#reset-form .error:not([hidden])')
    await page.fill('#reset-form [name="new_password"]', NEW_PASSWORD)
    const [done] = await Promise.all([page.waitForResponse(isPath('/account/password/reset/confirm', 'POST')), page.click('#reset-form button[type="submit"]')])
    t.equal(done.status(), 200)
    await page.waitForSelector(visible('signed-in'))
    t.match(await page.textContent('#greeting'), email)
    t.equal(new URL(page.url()).search, '', 'the token is gone from the address bar')
    t.match(await page.textContent('#notice'), /password has been changed/)
    const old = await app.inject({ method: 'POST', url: '/account/login', payload: { email, password: PASSWORD } })
    t.equal(old.json().code, 'INVALID_CREDENTIALS', 'the old password no longer works')
    t.same(problems, [])
    await context.close()
  })

  t.test('a used reset link shows the API\'s error on the form', async (t) => {
    const { email } = await join(app)
    await smtp.mailTo(email)
    await app.inject({ method: 'POST', url: '/account/password/reset', payload: { email } })
    const link = /^(http:\/\/\S+#reset)$/m.exec((await smtp.mailTo(email)).body)?.[1] ?? ''
    const token = new URL(link).searchParams.get('token')
    await app.inject({ method: 'POST', url: '/account/password/reset/confirm', payload: { token, new_password: NEW_PASSWORD } })
    const { page, context } = await open(link)
    await page.waitForSelector(visible('reset'))
    await page.fill('#reset-form [name="new_password"]', 'yet-another-Phrase-3')
    await page.click('#reset-form button[type="submit"]')
    await page.waitForSelector('#reset-form .error:not([hidden])')
    t.match(await page.textContent('#reset-form .error'), /invalid, expired or already used/)
    await context.close()
  })

  t.test('the verification link confirms the address', async (t) => {
    // A fixed address and a full profile: this page, verified, is docs/screenshot.png.
    const email = 'ana@example.com'
    const { page, context, problems } = await open(`${origin}/`)
    await page.waitForSelector(visible('signed-out'))
    for (const [name, value] of Object.entries({ email, password: PASSWORD, name: 'Ana', date_of_birth: '1990-04-01', phone_number: '+82 10-1234-5678' })) {
      await page.fill(`#join-form [name="${name}"]`, value)
    }
    await page.selectOption('#join-form [name="gender"]', 'female')
    await page.click('#join-form button[type="submit"]')
    await page.waitForSelector(visible('signed-in'))
    t.equal(await page.textContent('#greeting'), greetingFor(email))
    t.equal(await page.textContent('#profile dd[data-field="email_verified"]'), 'no')
    const link = /^(http:\/\/\S+#verify)$/m.exec((await smtp.mailTo(email)).body)?.[1] ?? ''
    t.ok(link.startsWith(`${origin}/?token=`))
    const [verified] = await Promise.all([page.waitForResponse(isPath('/account/email/verify', 'POST')), page.goto(link)])
    t.equal(verified.status(), 200)
    await page.waitForSelector(visible('signed-in'))
    await page.waitForFunction(() => document.querySelector('#profile dd[data-field="email_verified"]')?.textContent === 'yes')
    t.equal(await page.textContent('#notice'), 'Email verified.')
    t.equal(new URL(page.url()).search, '', 'the token is gone from the address bar')
    t.same(problems, [])
    // The signed-in page with everything it offers: the verified profile, its
    // edit form, the email change and the deletion, as docs/screenshot.png shows it.
    for (const form of ['#profile-form', '#email-form', '#delete-form']) t.ok(await page.isVisible(form), `${form} shown`)
    await checkScreenshot(t, page)
    await context.close()
  })

  t.test('the email form asks for the new address to be verified', async (t) => {
    const { page, context } = await signedIn()
    const fresh = uniqueEmail()
    await page.fill('#email-form [name="new_email"]', fresh)
    await page.fill('#email-form [name="password"]', 'wrong-Password-1')
    await page.click('#email-form button[type="submit"]')
    await page.waitForSelector('#email-form .error:not([hidden])')
    t.equal(await page.textContent('#email-form .error'), 'The password is incorrect.')
    await page.fill('#email-form [name="password"]', PASSWORD)
    const [changed] = await Promise.all([page.waitForResponse(isPath('/account/email/change', 'POST')), page.click('#email-form button[type="submit"]')])
    t.equal(changed.status(), 200)
    await page.waitForSelector('#email-form .notice:not([hidden])')
    t.match(await page.textContent('#email-form .notice'), /Verification e-mail sent to the new address/)
    t.equal((await smtp.mailTo(fresh)).subject, 'Confirm your new email address')
    await context.close()
  })

  t.test('deleting the account signs out and says so', async (t) => {
    const { email, page, context, problems } = await signedIn()
    await page.fill('#delete-form [name="password"]', 'wrong-Password-1')
    await page.click('#delete-form button[type="submit"]')
    await page.waitForSelector('#delete-form .error:not([hidden])')
    await page.fill('#delete-form [name="password"]', PASSWORD)
    const [deleted] = await Promise.all([page.waitForResponse(isPath('/account/mypage', 'DELETE')), page.click('#delete-form button[type="submit"]')])
    t.equal(deleted.status(), 200)
    t.ok((deleted.request().headers()['x-csrf-token'] ?? '').length > 20, 'X-CSRF-Token sent')
    await page.waitForSelector(visible('signed-out'))
    t.equal(await page.textContent('#notice'), 'Your account has been deleted.')
    t.same(await context.cookies(), [], 'no cookie is left')
    const login = await app.inject({ method: 'POST', url: '/account/login', payload: { email, password: PASSWORD } })
    t.equal(login.json().code, 'INVALID_CREDENTIALS')
    t.same(problems, [])
    await context.close()
  })

  t.test('EMAIL_VERIFICATION=mandatory: join says to verify; a refused login offers the mail again', async (t) => {
    const strictPort = await freePort()
    const strictOrigin = `http://localhost:${strictPort}`
    const strict = await buildApp(testConfig(t, {
      PORT: String(strictPort), PUBLIC_URL: `${strictOrigin}/`, SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'mandatory', RATE_LIMIT_MAIL_MAX: '1000'
    }))
    await strict.listen({ port: strictPort, host: '127.0.0.1' })
    t.teardown(() => strict.close())

    const email = uniqueEmail()
    const { page, context, problems } = await open(`${strictOrigin}/`)
    await page.waitForSelector(visible('signed-out'))
    await page.fill('#join-form [name="email"]', email)
    await page.fill('#join-form [name="password"]', PASSWORD)
    const [joined] = await Promise.all([page.waitForResponse(isPath('/account/join', 'POST')), page.click('#join-form button[type="submit"]')])
    t.equal(joined.status(), 201)
    await page.waitForSelector('#notice:not([hidden])')
    t.equal(await page.textContent('#notice'), 'Verification e-mail sent. Follow its link, then log in.')
    t.ok(await page.isVisible('#signed-out'), 'still signed out')
    await smtp.mailTo(email)

    const refused = await logIn(page, email)
    t.equal(refused.status(), 403)
    await page.waitForSelector('#resend-button:not([hidden])')
    const [resent] = await Promise.all([page.waitForResponse(isPath('/account/email/resend', 'POST')), page.click('#resend-button')])
    t.equal(resent.status(), 200)
    await page.waitForSelector('#login-form .notice:not([hidden])')
    const link = /^(http:\/\/\S+#verify)$/m.exec((await smtp.mailTo(email)).body)?.[1] ?? ''
    await page.goto(link)
    await page.waitForFunction(() => document.querySelector('#notice')?.textContent === 'Email verified.')
    const ok = await logIn(page, email)
    t.equal(ok.status(), 200)
    await page.waitForSelector(visible('signed-in'))
    t.equal(await page.textContent('#profile dd[data-field="email_verified"]'), 'yes')
    t.same(problems, [])
    await context.close()
  })
}
