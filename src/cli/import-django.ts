import { DjangoImportError, importDjangoUsers, readDjangoDumpdata, readDjangoPostgres, readDjangoSqlite, type DjangoSource } from '../django/import.js'
import { CliError, type Command } from './command.js'
import { stringOption, withServices } from './services.js'

export const importDjango: Command = {
  name: 'import django',
  summary: 'import the users of a Django deployment (hashes kept; a re-run updates what it imported)',
  usage: '(--db PATH.sqlite3 | --db postgres://… | --json dumpdata.json) [--table accounts_user] [--model accounts.user] [--report]',
  help: `Imports the users of a Django deployment into this service's database. Nothing
in the Django database is changed (SQLite is opened read-only, PostgreSQL read
in a READ ONLY transaction).
  --db PATH|URL    the Django database: a SQLite file or a postgres:// URL
  --table T        its user table (default accounts_user; Django's own is auth_user)
  --json FILE      instead of --db: "manage.py dumpdata <app>.user account.emailaddress" output
  --model M        with --json, the user model (default: any "<app>.user")
  --report         print each skipped user as a JSON line on standard output:
                   {"legacy_id","email","reason"[,"detail"]}
Carried over: email (the username when the email is empty and the username is an
address), name (or first_name + last_name), gender ('' becomes null),
date_of_birth, phone_number, is_active, is_staff, is_superuser, date_joined,
last_login, email_verified (from allauth's account_emailaddress when present),
the password hash as it is (pbkdf2_sha256, pbkdf2_sha1, argon2, scrypt,
bcrypt_sha256, bcrypt; replaced
by argon2id at the user's first login) and Django's id as legacy_id, which
SIMPLEJWT_COMPAT uses to exchange the deployment's refresh tokens. Refresh tokens
blacklisted by simplejwt's token_blacklist app (logged out) are recorded so that
they are never exchanged. allauth's social accounts (socialaccount_socialaccount:
provider and uid) are linked to their users, so that whoever signed in with
Google or Kakao there signs in to the same account here (SOCIAL_PROVIDERS); a
user with an unusable password is imported when it has one (it keeps no usable
password: it signs in through its provider, or sets one with a reset).
Re-running is safe: a user imported before (same email, same Django id) is
updated; a user who has logged in here keeps this service's password. An
existing account with the same email but not linked to that Django id (it joined
here, or came from another Django user) is never merged into, re-activated or
marked verified: the Django user is skipped and listed. Skipped (with the
reason): users without an email, with an unusable password and no social account, an unsupported password or one
whose costs are beyond the limits login computes, a second user with the same
email, an email already used by an account not linked to the Django user, or a
Django id already linked to another user. Exit code 1 if the source cannot be read.`,
  options: { db: { type: 'string' }, json: { type: 'string' }, table: { type: 'string' }, model: { type: 'string' }, report: { type: 'boolean' } },
  async run (ctx) {
    const db = stringOption(ctx, 'db')
    const json = stringOption(ctx, 'json')
    if ((db === undefined) === (json === undefined)) throw new CliError('give either --db or --json', 2)
    const table = stringOption(ctx, 'table') ?? 'accounts_user'
    const model = stringOption(ctx, 'model')
    let source: DjangoSource
    try {
      if (json !== undefined) source = await readDjangoDumpdata(json, model)
      else if (/^postgres(ql)?:\/\//i.test(db ?? '')) source = await readDjangoPostgres(db ?? '', table)
      else source = await readDjangoSqlite(db ?? '', table)
    } catch (err) {
      if (err instanceof DjangoImportError) throw new CliError(err.message)
      throw err
    }
    return await withServices(ctx, async ({ store }) => {
      const summary = await importDjangoUsers(store, source)
      ctx.out(`imported from Django: ${summary.created} created, ${summary.updated} updated, ${summary.skipped.length} skipped`)
      if (summary.blacklisted > 0) ctx.out(`  ${summary.blacklisted} blacklisted (logged-out) simplejwt refresh token(s) will be refused`)
      if (summary.socialAccounts > 0) ctx.out(`  ${summary.socialAccounts} social account(s) linked (socialaccount_socialaccount)`)
      const reasons = new Map<string, number>()
      for (const s of summary.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1)
      for (const [reason, n] of reasons) ctx.out(`  skipped ${n}: ${reason}`)
      if (ctx.values.report === true) {
        for (const s of summary.skipped) ctx.out(JSON.stringify({ legacy_id: s.legacyId, email: s.email, reason: s.reason, ...(s.detail === undefined ? {} : { detail: s.detail }) }))
      }
      return 0
    })
  }
}
