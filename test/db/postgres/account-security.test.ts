import t from 'tap'
import { importDjangoUsers, readDjangoSqlite } from '../../../src/django/import.js'
import { bearer, NEW_PASSWORD, PASSWORD, post, refresh, uniqueEmail, join } from '../../helpers/app.js'
import { DJANGO_DB, django } from '../../helpers/django-fixtures.js'
import { testDatabase } from '../../helpers/postgres.js'
import { buildWithSmtp } from '../../helpers/smtp.js'

/*
 * Issue 23's account rules on PostgreSQL, through the routes (the stores'
 * share is proven on both by test/db/account-tokens.test.ts): an email-change
 * link dies with a password change, and a Django token issued before a
 * password change here is TOKEN_REVOKED.
 */

t.test('on PostgreSQL: email-change links bound to the password; Django tokens revoked by a password change', async (t) => {
  const url = await testDatabase(t)
  const { app, smtp } = await buildWithSmtp(t, { DATABASE_URL: url, EMAIL_VERIFICATION: 'optional', SIMPLEJWT_COMPAT: 'true', JWT_SECRET: django.signing_key })
  t.equal(app.config.database.kind, 'postgres')

  const s = await join(app)
  await smtp.mailTo(s.email)
  const target = uniqueEmail()
  t.equal((await post(app, '/account/email/change', { password: PASSWORD, new_email: target }, bearer(s.access))).statusCode, 200)
  t.match((await smtp.mailTo(s.email)).body, new RegExp(target.replace(/\./g, '\\.')), 'the notice names the new address')
  const link = (await smtp.mailTo(target)).token
  t.equal((await post(app, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(s.access))).statusCode, 200)
  t.equal((await post(app, '/account/email/verify', { token: link })).json().code, 'VERIFICATION_TOKEN_INVALID')

  await importDjangoUsers(app.store, await readDjangoSqlite(DJANGO_DB, 'accounts_user'))
  const bob = await app.store.users.byLegacyId(String(django.users.bob.id))
  await app.store.users.setPassword(bob?.id ?? '', bob?.passwordHash ?? '', Math.floor(Date.now() / 1000))
  const revoked = await refresh(app, django.refresh.bob)
  t.equal(revoked.statusCode, 401)
  t.equal(revoked.json().code, 'TOKEN_REVOKED')
  t.equal((await refresh(app, django.refresh.carol)).statusCode, 200, 'another user\'s is exchanged')
})
