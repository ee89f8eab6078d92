import Database from 'better-sqlite3'
import { copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import t from 'tap'
import { importDjangoUsers, readDjangoDumpdata, readDjangoSqlite } from '../../src/django/import.js'
import { cli } from '../helpers/cli.js'
import { DJANGO_DB, DJANGO_DUMP, django } from '../helpers/django-fixtures.js'
import { build, login, tempDir } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'

/*
 * `import django` against the fixtures Django itself made (make-fixtures.sh):
 * the fields carried over, re-running, every skip reason, login with each
 * imported hash type and its replacement by argon2id.
 */

const { users } = django

t.test('a fresh import carries every field over; a re-run updates and creates nothing', async (t) => {
  const app = await build(t)
  const source = await readDjangoSqlite(DJANGO_DB, 'accounts_user')
  const first = await importDjangoUsers(app.store, source)
  t.equal(first.created, 9)
  t.equal(first.updated, 0)
  t.equal(first.blacklisted, 1, "simplejwt's blacklisted token carried over")
  t.same(first.skipped.map((s) => [s.legacyId, s.reason, s.detail]).sort(), [
    [String(users.henry.id), 'no email address', 'username "henry"'],
    [String(users.ivan.id), 'unusable password (no password login in Django)', undefined]
  ])
  const alice = await app.store.users.byEmail('alice@example.test')
  t.match(alice, {
    email: 'alice@example.test', // lower-cased
    name: 'Alice Kim',
    gender: 'female',
    dateOfBirth: '1990-01-02',
    phoneNumber: '010-1234-5678',
    isActive: true,
    isStaff: false,
    isSuperuser: false,
    emailVerified: true, // account_emailaddress.verified
    legacyId: String(users.alice.id)
  })
  t.equal(alice?.dateJoined.toISOString(), '2021-03-04T05:06:07.890Z')
  t.equal(alice?.lastLogin?.toISOString(), '2024-05-06T07:08:09.000Z')
  t.match(alice?.passwordHash, /^pbkdf2_sha256\$/, 'the Django hash as it was')
  t.match(await app.store.users.byEmail('bob@example.test'), { gender: null, phoneNumber: null, emailVerified: false, lastLogin: null }, "Django's '' gender is null")
  t.match(await app.store.users.byEmail('erin@example.test'), { isActive: false })
  t.match(await app.store.users.byEmail('frank@example.test'), { isStaff: true, isSuperuser: true })
  t.match(await app.store.users.byEmail('grace@example.test'), { legacyId: String(users.grace.id) }, 'the username when there is no email')
  t.match(await app.store.users.byEmail('dave@example.test'), { emailVerified: false }, 'no account_emailaddress row: unverified')

  const again = await importDjangoUsers(app.store, source)
  t.same([again.created, again.updated, again.skipped.length], [0, 9, 2])
  t.equal((await app.store.users.byEmail('alice@example.test'))?.id, alice?.id, 'the same user')
})

t.test('dumpdata JSON gives the same users as the database', async (t) => {
  const app = await build(t)
  const summary = await importDjangoUsers(app.store, await readDjangoDumpdata(DJANGO_DUMP))
  t.same([summary.created, summary.updated, summary.skipped.length, summary.blacklisted], [9, 0, 2, 1])
  t.match(await app.store.users.byEmail('alice@example.test'), { emailVerified: true, dateOfBirth: '1990-01-02', legacyId: String(users.alice.id) })
  t.match(await app.store.users.byEmail('carol@example.test'), { gender: 'male', emailVerified: true })
})

t.test('login verifies every imported hash type, then the hash is argon2id', async (t) => {
  const app = await build(t)
  await importDjangoUsers(app.store, await readDjangoSqlite(DJANGO_DB, 'accounts_user'))
  const cases = [users.alice, users.bob, users.carol, users.dave, users.grace, users.jane, users.kate]
  t.same(cases.map((u) => u.hash).sort(), ['argon2', 'bcrypt', 'bcrypt_sha256', 'pbkdf2_sha1', 'pbkdf2_sha256', 'pbkdf2_sha256', 'scrypt'])
  for (const u of cases) {
    const email = (u.email ?? u.username).toLowerCase()
    const before = await app.store.users.byEmail(email)
    t.ok(before?.passwordHash.startsWith(`${u.hash}$`), `${u.hash}: imported as is`)
    t.equal((await login(app, email, `${u.password ?? ''}x`)).json().code, 'INVALID_CREDENTIALS', `${u.hash}: a wrong password is refused`)
    t.equal((await app.store.users.byEmail(email))?.passwordHash, before?.passwordHash, `${u.hash}: a failed login changes nothing`)
    const res = await login(app, email, u.password ?? '')
    t.equal(res.statusCode, 200, `${u.hash}: logs in`)
    const after = await app.store.users.byEmail(email)
    t.match(after?.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, `${u.hash}: re-hashed to argon2id in the same request`)
    t.equal((await login(app, email, u.password ?? '')).statusCode, 200, `${u.hash}: logs in with the new hash`)
  }
  t.equal((await login(app, users.erin.email ?? '', users.erin.password ?? '')).json().code, 'ACCOUNT_INACTIVE')
  t.equal((await login(app, users.ivan.email ?? '', 'anything')).json().code, 'INVALID_CREDENTIALS', 'a skipped user does not exist')
  // A re-import after the first login keeps this service's hash.
  await importDjangoUsers(app.store, await readDjangoSqlite(DJANGO_DB, 'accounts_user'))
  t.match((await app.store.users.byEmail('alice@example.test'))?.passwordHash, /^\$argon2id\$/)
})

t.test('import django on the command line: summary, --report, and its errors', async (t) => {
  const dir = tempDir(t)
  const env = { DATABASE_URL: `file:${join(dir, 'auth.db')}` }
  const res = await cli(['import', 'django', '--db', DJANGO_DB, '--report'], env)
  t.equal(res.code, 0, res.err)
  t.match(res.out, /^imported from Django: 9 created, 0 updated, 2 skipped$/m)
  t.match(res.out, /^ {2}1 blacklisted \(logged-out\) simplejwt refresh token\(s\) will be refused$/m)
  t.match(res.out, /skipped 1: no email address/)
  t.match(res.out, /skipped 1: unusable password/)
  t.match(res.out, /^\{"legacy_id":"8","email":"henry","reason":"no email address","detail":"username \\"henry\\""\}$/m)
  const rerun = await cli(['import', 'django', '--json', DJANGO_DUMP], env)
  t.match(rerun.out, /0 created, 9 updated, 2 skipped/)

  // Another user with the same email (case aside) in the source is skipped, naming the first.
  const copy = join(dir, 'django.sqlite3')
  copyFileSync(DJANGO_DB, copy)
  const db = new Database(copy)
  db.prepare("UPDATE accounts_user SET email = 'ALICE@example.test' WHERE id = ?").run(users.bob.id)
  db.prepare("UPDATE accounts_user SET password = 'md5$salt$abc' WHERE id = ?").run(users.carol.id)
  // A hash whose costs login would refuse to compute is listed, not imported with a password that never works.
  db.prepare("UPDATE accounts_user SET password = 'scrypt$16384$salt$8$1000$aGFzaA==' WHERE id = ?").run(users.dave.id)
  db.close()
  const dupes = await cli(['import', 'django', '--db', copy, '--report'], env)
  t.match(dupes.out, /"reason":"same email as an earlier Django user","detail":"Django user 1"/)
  t.match(dupes.out, /"reason":"unsupported password hash","detail":"md5"/)
  t.match(dupes.out, /^ {2}skipped 1: unsupported password hash$/m)
  t.match(dupes.out, /"reason":"password hash costs beyond the limits","detail":"scrypt N·r·p 131072000 > 2097152"/)
  t.match(dupes.out, /^ {2}skipped 1: password hash costs beyond the limits$/m)

  const errors: Array<[string[], number, RegExp]> = [
    [['import', 'django'], 2, /^error: give either --db or --json$/],
    [['import', 'django', '--db', DJANGO_DB, '--json', DJANGO_DUMP], 2, /^error: give either --db or --json$/],
    [['import', 'django', '--db', join(dir, 'missing.sqlite3')], 1, /^error: cannot open .*missing\.sqlite3/],
    [['import', 'django', '--db', DJANGO_DB, '--table', 'auth_user'], 1, /has no table "auth_user" \(name the user table with --table\)/],
    [['import', 'django', '--db', DJANGO_DB, '--table', 'x; DROP TABLE y'], 1, /--table must be a table name/],
    [['import', 'django', '--json', join(dir, 'missing.json')], 1, /^error: cannot read .*missing\.json as dumpdata JSON/],
    [['import', 'django', '--json', join(dir, 'empty.json')], 1, /holds no <app>\.user objects/]
  ]
  writeFileSync(join(dir, 'empty.json'), '[]')
  for (const [argv, code, message] of errors) {
    const r = await cli(argv, env)
    t.equal(r.code, code, argv.join(' '))
    t.match(r.err, message, argv.join(' '))
    t.equal(r.err.split('\n').length, 1, 'one line')
  }
})

t.test('an account of this service with a Django user\'s email is never merged into, re-activated or verified', async (t) => {
  const app = await build(t)
  // Alice joined here first (unverified), then was deactivated by an operator.
  const joined = await app.inject({ method: 'POST', url: '/account/join', payload: { email: 'Alice@example.test', password: 'a native passphrase 1' } })
  t.equal(joined.statusCode, 201, joined.body)
  const native = await app.store.users.byEmail('alice@example.test')
  await app.store.users.setActive(native?.id ?? '', false)
  const before = await app.store.users.byEmail('alice@example.test')
  const summary = await importDjangoUsers(app.store, await readDjangoSqlite(DJANGO_DB, 'accounts_user'))
  t.same([summary.created, summary.updated], [8, 0])
  t.same(summary.skipped.filter((s) => s.reason === 'email already used by an account not linked to this Django user'),
    [{ legacyId: String(users.alice.id), email: 'alice@example.test', reason: 'email already used by an account not linked to this Django user' }])
  t.strictSame(await app.store.users.byEmail('alice@example.test'), before, 'still inactive, unverified, with its own password and no Django id')
  t.equal((await login(app, 'alice@example.test', users.alice.password ?? '')).json().code, 'INVALID_CREDENTIALS', "Django's password does not open it")

  // The command line counts and lists the collision.
  const dir = tempDir(t)
  const env = { DATABASE_URL: `file:${join(dir, 'auth.db')}` }
  t.equal((await cli(['users', 'create', '--email', 'bob@example.test', '--password', 'another native pass 2'], env)).code, 0)
  const res = await cli(['import', 'django', '--db', DJANGO_DB, '--report'], env)
  t.match(res.out, /^imported from Django: 8 created, 0 updated, 3 skipped$/m)
  t.match(res.out, /^ {2}skipped 1: email already used by an account not linked to this Django user$/m)
  t.match(res.out, new RegExp(`^\\{"legacy_id":"${users.bob.id}","email":"bob@example.test","reason":"email already used by an account not linked to this Django user"\\}$`, 'm'))
})

t.test("Django's own auth_user: first_name + last_name, username as the address; --model for dumpdata", async (t) => {
  const dir = tempDir(t)
  const env = { DATABASE_URL: `file:${join(dir, 'auth.db')}` }
  // The columns of django.contrib.auth's auth_user (Django 3.2), as its SQLite backend creates them.
  const path = join(dir, 'django.sqlite3')
  const db = new Database(path)
  db.exec(`CREATE TABLE auth_user (id integer PRIMARY KEY AUTOINCREMENT, password varchar(128) NOT NULL, last_login datetime NULL,
    is_superuser bool NOT NULL, username varchar(150) NOT NULL UNIQUE, last_name varchar(150) NOT NULL, email varchar(254) NOT NULL,
    is_staff bool NOT NULL, is_active bool NOT NULL, date_joined datetime NOT NULL, first_name varchar(150) NOT NULL)`)
  const insert = db.prepare('INSERT INTO auth_user (password, last_login, is_superuser, username, last_name, email, is_staff, is_active, date_joined, first_name) VALUES (?, NULL, 0, ?, ?, ?, 0, 1, ?, ?)')
  const hash = (await import('node:fs')).readFileSync(DJANGO_DUMP, 'utf8').match(/"password": "(pbkdf2_sha256\$[^"]+)"/)?.[1] ?? ''
  insert.run(hash, 'lee', 'Lee', 'Min@Example.test', '2020-01-02 03:04:05.123456', 'Min')
  insert.run(hash, 'park@example.test', 'Park', '', '2020-01-02 03:04:05', 'Ji')
  db.close()
  const res = await cli(['import', 'django', '--db', path, '--table', 'auth_user'], env)
  t.match(res.out, /2 created, 0 updated, 0 skipped/, res.err)
  const min = JSON.parse((await cli(['users', 'show', 'min@example.test', '--json'], env)).out) as Record<string, unknown>
  t.match(min, { name: 'Min Lee', date_joined: '2020-01-02T03:04:05.123Z', email_verified: false, gender: null })
  t.match(JSON.parse((await cli(['users', 'show', 'park@example.test', '--json'], env)).out), { name: 'Ji Park' })

  // Django ids 1 and 2 are now linked: another deployment's users 1 and 2 are refused.
  const linked = await cli(['import', 'django', '--json', DJANGO_DUMP], env)
  t.match(linked.out, /7 created, 0 updated, 4 skipped$/m)
  t.match(linked.out, /^ {2}skipped 2: Django id already linked to another user$/m)

  const fresh = { DATABASE_URL: `file:${join(dir, 'fresh.db')}` }
  t.match((await cli(['import', 'django', '--json', DJANGO_DUMP, '--model', 'accounts.user'], fresh)).out, /9 created/)
  const other = await cli(['import', 'django', '--json', DJANGO_DUMP, '--model', 'auth.user'], fresh)
  t.equal(other.code, 1)
  t.match(other.err, /holds no auth\.user objects/)
})

t.test('import from a Django PostgreSQL database into a PostgreSQL store', async (t) => {
  // A Django-shaped PostgreSQL database (the column types Django's backend
  // creates), filled with the fixture's rows.
  const djangoUrl = await testDatabase(t)
  const client = new pg.Client({ connectionString: djangoUrl })
  await client.connect()
  t.teardown(() => client.end())
  await client.query(`CREATE TABLE accounts_user (id serial PRIMARY KEY, password varchar(128) NOT NULL, last_login timestamptz,
    is_superuser boolean NOT NULL, email varchar(254) UNIQUE, username varchar(150) NOT NULL, name varchar(100) NOT NULL,
    gender varchar(10) NOT NULL, date_of_birth date, phone_number varchar(20) NOT NULL, is_active boolean NOT NULL,
    is_staff boolean NOT NULL, date_joined timestamptz NOT NULL)`)
  await client.query(`CREATE TABLE account_emailaddress (id serial PRIMARY KEY, email varchar(254) NOT NULL, verified boolean NOT NULL,
    "primary" boolean NOT NULL, user_id integer NOT NULL REFERENCES accounts_user (id))`)
  const source = new Database(DJANGO_DB, { readonly: true })
  for (const row of source.prepare('SELECT * FROM accounts_user').all() as Array<Record<string, unknown>>) {
    await client.query(`INSERT INTO accounts_user (id, password, last_login, is_superuser, email, username, name, gender, date_of_birth,
      phone_number, is_active, is_staff, date_joined) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [row.id, row.password, row.last_login === null ? null : `${String(row.last_login)}Z`, row.is_superuser === 1, row.email, row.username, row.name,
      row.gender, row.date_of_birth, row.phone_number, row.is_active === 1, row.is_staff === 1, `${String(row.date_joined)}Z`])
  }
  for (const row of source.prepare('SELECT * FROM account_emailaddress').all() as Array<Record<string, unknown>>) {
    await client.query('INSERT INTO account_emailaddress (id, email, verified, "primary", user_id) VALUES ($1, $2, $3, $4, $5)',
      [row.id, row.email, row.verified === 1, row.primary === 1, row.user_id])
  }
  // simplejwt's token_blacklist tables, as its migrations create them.
  await client.query(`CREATE TABLE token_blacklist_outstandingtoken (id bigserial PRIMARY KEY, token text NOT NULL, created_at timestamptz,
    expires_at timestamptz NOT NULL, user_id integer REFERENCES accounts_user (id), jti varchar(255) NOT NULL UNIQUE)`)
  await client.query(`CREATE TABLE token_blacklist_blacklistedtoken (id bigserial PRIMARY KEY, blacklisted_at timestamptz NOT NULL,
    token_id bigint NOT NULL UNIQUE REFERENCES token_blacklist_outstandingtoken (id))`)
  for (const row of source.prepare('SELECT * FROM token_blacklist_outstandingtoken').all() as Array<Record<string, unknown>>) {
    await client.query('INSERT INTO token_blacklist_outstandingtoken (id, token, created_at, expires_at, user_id, jti) VALUES ($1, $2, $3, $4, $5, $6)',
      [row.id, row.token, `${String(row.created_at)}Z`, `${String(row.expires_at)}Z`, row.user_id, row.jti])
  }
  for (const row of source.prepare('SELECT * FROM token_blacklist_blacklistedtoken').all() as Array<Record<string, unknown>>) {
    await client.query('INSERT INTO token_blacklist_blacklistedtoken (id, blacklisted_at, token_id) VALUES ($1, $2, $3)', [row.id, `${String(row.blacklisted_at)}Z`, row.token_id])
  }
  source.close()

  const env = { DATABASE_URL: await testDatabase(t), JWT_SECRET: django.signing_key }
  const res = await cli(['import', 'django', '--db', djangoUrl], env)
  t.equal(res.code, 0, res.err)
  t.match(res.out, /9 created, 0 updated, 2 skipped\n.*1 blacklisted/)
  t.match((await cli(['import', 'django', '--db', djangoUrl], env)).out, /0 created, 9 updated, 2 skipped/)
  const shown = JSON.parse((await cli(['users', 'show', 'alice@example.test', '--json'], env)).out) as Record<string, unknown>
  t.match(shown, {
    email: 'alice@example.test',
    name: 'Alice Kim',
    gender: 'female',
    date_of_birth: '1990-01-02',
    phone_number: '010-1234-5678',
    date_joined: '2021-03-04T05:06:07.890Z',
    last_login: '2024-05-06T07:08:09.000Z',
    email_verified: true,
    legacy_id: String(users.alice.id)
  })
  t.match(JSON.parse((await cli(['users', 'show', 'bob@example.test', '--json'], env)).out), { gender: null, email_verified: false })
  const missing = await cli(['import', 'django', '--db', djangoUrl, '--table', 'auth_user'], env)
  t.equal(missing.code, 1)
  t.match(missing.err, /has no table "auth_user"/)
})

t.test('allauth social accounts: linked to their users, whose unusable password is then no reason to skip them', async (t) => {
  const app = await build(t)
  const copy = join(tempDir(t), 'django.sqlite3')
  copyFileSync(DJANGO_DB, copy)
  const db = new Database(copy)
  db.exec(`CREATE TABLE socialaccount_socialaccount (id integer PRIMARY KEY, provider varchar(200) NOT NULL, uid varchar(191) NOT NULL,
    last_login datetime NOT NULL, date_joined datetime NOT NULL, extra_data text NOT NULL, user_id integer NOT NULL)`)
  const add = db.prepare("INSERT INTO socialaccount_socialaccount (provider, uid, last_login, date_joined, extra_data, user_id) VALUES (?, ?, '2024-01-01 00:00:00', '2024-01-01 00:00:00', '{}', ?)")
  add.run('kakao', '1234567890', users.ivan.id)
  add.run('google', '109876543210', users.alice.id)
  add.run('google', '555', 999999) // a user that is not there
  db.close()

  const summary = await importDjangoUsers(app.store, await readDjangoSqlite(copy, 'accounts_user'))
  t.equal(summary.socialAccounts, 2)
  t.notOk(summary.skipped.some((s) => s.legacyId === String(users.ivan.id)), 'ivan (unusable password, a Kakao account) is imported')
  const ivan = await app.store.users.byEmail('ivan@example.test')
  t.ok(ivan?.passwordHash.startsWith('!'), 'with no usable password')
  t.match(await app.store.socialIdentities.byProviderSubject('kakao', '1234567890'), { userId: ivan?.id })
  const alice = await app.store.users.byEmail('alice@example.test')
  t.match(await app.store.socialIdentities.byProviderSubject('google', '109876543210'), { userId: alice?.id })
  const res = await login(app, 'ivan@example.test', 'anything-At-all-1')
  t.equal(res.statusCode, 401, 'no password login')
  t.equal(res.json().code, 'INVALID_CREDENTIALS')

  // A re-run links nothing twice.
  t.equal((await importDjangoUsers(app.store, await readDjangoSqlite(copy, 'accounts_user'))).socialAccounts, 0)

  // dumpdata: socialaccount.socialaccount objects.
  const other = await build(t)
  const dump = join(tempDir(t), 'dump.json')
  writeFileSync(dump, JSON.stringify([
    { model: 'accounts.user', pk: 7, fields: { email: 'sam@example.test', password: '!unusable', name: 'Sam', is_active: true, date_joined: '2024-01-01T00:00:00Z' } },
    { model: 'socialaccount.socialaccount', pk: 1, fields: { user: 7, provider: 'google', uid: 'g-7', extra_data: {} } }
  ]))
  const fromDump = await importDjangoUsers(other.store, await readDjangoDumpdata(dump))
  t.equal(fromDump.created, 1)
  t.equal(fromDump.socialAccounts, 1)
})
