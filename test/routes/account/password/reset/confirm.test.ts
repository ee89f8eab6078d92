import Database from 'better-sqlite3'
import t from 'tap'
import { bearer, cookiesOf, join, login, mypage, NEW_PASSWORD, PASSWORD, post, refresh, sqlitePath } from '../../../../helpers/app.js'
import { testDatabase } from '../../../../helpers/postgres.js'
import { buildWithSmtp, resetToken } from '../../../../helpers/smtp.js'
import { sideSql } from '../../../../helpers/store.js'

t.test('POST /account/password/reset/confirm with the token of a mail from a real SMTP server', async (t) => {
  const { app, smtp, logs, config } = await buildWithSmtp(t)

  t.test('confirm: new password, fresh tokens, every old session revoked, single use', async (t) => {
    const s = await join(app)
    const other = await login(app, s.email)
    const token = await resetToken(app, smtp, s.email)

    const weak = await post(app, '/account/password/reset/confirm', { token, new_password: '12345678' })
    t.equal(weak.statusCode, 400)
    t.equal(weak.json().code, 'WEAK_PASSWORD', 'the password policy applies')

    const res = await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })
    t.equal(res.statusCode, 200, 'a weak attempt did not use up the token')
    t.match(res.json(), { access: String, refresh: String })
    t.ok(cookiesOf(res).access_token, 'with the cookies')
    t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED', 'old sessions are revoked')
    t.equal((await refresh(app, other.json().refresh)).json().code, 'TOKEN_REVOKED')
    t.equal((await refresh(app, res.json().refresh)).statusCode, 200, 'the new session works')
    t.equal((await login(app, s.email)).json().code, 'INVALID_CREDENTIALS', 'the old password is gone')
    t.equal((await login(app, s.email, NEW_PASSWORD)).statusCode, 200)
    t.equal((await mypage(app, res.json().access)).json().user.email_verified, true, 'following the mailed link proved the address')

    const reuse = await post(app, '/account/password/reset/confirm', { token, new_password: 'a-third-Password-71' })
    t.equal(reuse.statusCode, 400)
    t.equal(reuse.json().code, 'RESET_TOKEN_INVALID', 'single use')
    const all = logs.join('')
    t.ok(all.includes('"event":"password_reset"'), 'an audit line for the reset')
    t.notOk(all.includes(token) || all.includes(NEW_PASSWORD) || all.includes(res.json().refresh), 'no token or password in the logs')
  })

  t.test('bad, expired and superseded tokens are RESET_TOKEN_INVALID', async (t) => {
    const confirm = async (token: string) => await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })
    t.equal((await confirm('no-such-token')).json().code, 'RESET_TOKEN_INVALID')
    t.equal((await post(app, '/account/password/reset/confirm', { token: '', new_password: NEW_PASSWORD })).json().code, 'VALIDATION_ERROR')
    t.equal((await post(app, '/account/password/reset/confirm', { token: 'x' })).json().code, 'VALIDATION_ERROR')

    const s = await join(app)
    const expired = await resetToken(app, smtp, s.email)
    const db = new Database(sqlitePath(config))
    db.prepare('UPDATE account_tokens SET expires_at = ? WHERE user_id = ?').run(Math.floor(Date.now() / 1000) - 1, s.user.id)
    db.close()
    t.equal((await confirm(expired)).json().code, 'RESET_TOKEN_INVALID', 'expired')

    // Void once the password changed by another path.
    const token = await resetToken(app, smtp, s.email)
    const changed = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'changed-Elsewhere-55' }, bearer(s.access))
    t.equal(changed.statusCode, 200)
    t.equal((await confirm(token)).json().code, 'RESET_TOKEN_INVALID', 'void after a password change')

    // A verification token is not a reset token.
    const v = await post(app, '/account/email/resend', { email: s.email })
    t.equal(v.statusCode, 200)
    const verification = (await smtp.mailTo(s.email)).token ?? ''
    t.equal((await confirm(verification)).json().code, 'RESET_TOKEN_INVALID')
  })
})

// A fault while the new password is stored (a trigger refuses the update of
// the hash, as a full disk or a lost connection would fail it): the link must
// stay usable and the account unchanged, on either store.
const PASSWORD_UPDATE_FAULT = {
  sqlite: {
    inject: 'CREATE TRIGGER refuse_password BEFORE UPDATE OF password_hash ON users BEGIN SELECT RAISE(ABORT, \'injected fault\'); END',
    remove: 'DROP TRIGGER refuse_password'
  },
  postgres: {
    inject: `CREATE FUNCTION refuse_password() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
      CREATE TRIGGER refuse_password BEFORE UPDATE OF password_hash ON users FOR EACH ROW EXECUTE FUNCTION refuse_password()`,
    remove: 'DROP TRIGGER refuse_password ON users'
  }
}

for (const kind of ['sqlite', 'postgres'] as const) {
  t.test(`password reset confirm on ${kind} is one transaction: a fault midway leaves the link usable and nothing changed; concurrent confirmations, one wins`, async (t) => {
    const url = kind === 'postgres' ? await testDatabase(t) : undefined
    const { app, smtp, config } = await buildWithSmtp(t, url === undefined ? {} : { DATABASE_URL: url, JWT_SECRET: 'postgres-test-secret-0123456789abcdef' })
    const sql = sideSql(t, config.database)
    const s = await join(app)
    const token = await resetToken(app, smtp, s.email)

    await sql(PASSWORD_UPDATE_FAULT[kind].inject)
    const failed = await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })
    t.equal(failed.statusCode, 500, 'the fault answers 500')
    t.equal((await post(app, '/account/token/verify', { token: s.refresh })).statusCode, 200, 'the old session is not revoked')
    t.equal((await mypage(app, s.access)).json().user.email_verified, false, 'the address is not marked verified')
    t.equal((await login(app, s.email)).statusCode, 200, 'the old password still works')
    await sql(PASSWORD_UPDATE_FAULT[kind].remove)

    const confirms = await Promise.all([1, 2, 3].map(async () => await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })))
    t.same(confirms.map((r) => r.statusCode).sort(), [200, 400, 400], 'the link was not used up by the failed attempt; of concurrent confirmations one wins')
    t.same(confirms.filter((r) => r.statusCode === 400).map((r) => r.json().code), ['RESET_TOKEN_INVALID', 'RESET_TOKEN_INVALID'])
    t.equal((await post(app, '/account/token/verify', { token: s.refresh })).json().code, 'TOKEN_REVOKED', 'now the old session is revoked')
    const session = confirms.find((r) => r.statusCode === 200)?.json()
    t.equal((await mypage(app, session.access)).json().user.email_verified, true)
    t.equal((await login(app, s.email, NEW_PASSWORD)).statusCode, 200)
  })
}
