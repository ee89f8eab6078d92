import { performance } from 'node:perf_hooks'
import t from 'tap'
import { importDjangoUsers, readDjangoSqlite } from '../../../src/django/import.js'
import { hashKind } from '../../../src/passwords/hash.js'
import { build, join, login, testConfig, uniqueEmail, waitFor } from '../../helpers/app.js'
import { DJANGO_DB, django } from '../../helpers/django-fixtures.js'

/*
 * A failed login takes the same time whether the email is unknown, of a
 * native user (argon2id) or of a user imported from Django with PBKDF2 (far
 * slower to verify): the medians of the three are compared. Robust on a
 * loaded 2-core machine: samples are interleaved (a busy moment hits the three
 * alike), medians ignore outliers, and the factor allowed is generous — the
 * difference without equalisation is several times larger.
 */

const ROUNDS = 15
const FACTOR = 1.5

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

t.test('failed logins: unknown, native and imported-PBKDF2 emails take the same time', async (t) => {
  const app = await build(t)
  await importDjangoUsers(app.store, await readDjangoSqlite(DJANGO_DB, 'accounts_user'))
  const imported = (django.users.alice.email ?? '').toLowerCase()
  t.match(hashKind((await app.store.users.byEmail(imported))?.passwordHash ?? ''), /^pbkdf2_sha256\$\d+$/, 'a PBKDF2 hash imported from Django')
  const native = await join(app)
  const cases = { unknown: uniqueEmail(), native: native.email, imported }
  const times: Record<keyof typeof cases, number[]> = { unknown: [], native: [], imported: [] }

  const attempt = async (email: string): Promise<number> => {
    const started = performance.now()
    const res = await login(app, email, 'not-the-Password-0')
    const ms = performance.now() - started
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'INVALID_CREDENTIALS')
    return ms
  }
  // One of each first (the decoy hash is made, every kind is verified once).
  for (const email of Object.values(cases)) await attempt(email)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, email] of Object.entries(cases) as Array<[keyof typeof cases, string]>) times[name].push(await attempt(email))
  }
  const medians = Object.fromEntries(Object.entries(times).map(([name, ms]) => [name, Math.round(median(ms))]))
  const values = Object.values(medians)
  const ratio = Math.max(...values) / Math.min(...values)
  t.ok(ratio < FACTOR, `medians within ${FACTOR}×: ${JSON.stringify(medians)} ms (ratio ${ratio.toFixed(2)})`)
  t.ok(app.passwords.failureFloor() > 0, 'the floor was learnt')
})

t.test('a successful login is not held back by the floor', async (t) => {
  const app = await build(t)
  await importDjangoUsers(app.store, await readDjangoSqlite(DJANGO_DB, 'accounts_user'))
  const imported = (django.users.frank.email ?? '').toLowerCase()
  t.equal((await login(app, imported, 'not-the-Password-0')).statusCode, 401)
  const floor = app.passwords.failureFloor()
  const native = await join(app)
  const started = performance.now()
  t.equal((await login(app, native.email)).statusCode, 200)
  t.ok(performance.now() - started < floor * 2 + 200, 'answered after its own verification')
  t.equal(hashKind('pbkdf2_sha256$260000$salt$hash'), 'pbkdf2_sha256$260000')
  t.equal(hashKind('bcrypt_sha256$$2b$12$abc'), 'bcrypt_sha256')
  t.equal(hashKind('$argon2id$v=19$m=19456,t=2,p=1$x$y'), 'argon2id')
})

t.test('while Django hashes remain, a starting service learns their cost before the first failed login', async (t) => {
  const config = testConfig(t)
  const first = await build(t, {}, config)
  await importDjangoUsers(first.store, await readDjangoSqlite(DJANGO_DB, 'accounts_user'))
  t.equal(first.passwords.failureFloor(), 0, 'nothing verified yet by the first instance')
  t.equal(hashKind(await first.store.users.foreignHashSample() ?? ''), 'pbkdf2_sha256$260000', 'a Django hash not yet replaced')
  // A service started on that database: no login has happened there.
  const app = await build(t, {}, config)
  await waitFor(() => app.passwords.failureFloor() > 0, 'the floor learnt at start')
  const floor = app.passwords.failureFloor()
  const started = performance.now()
  t.equal((await login(app, uniqueEmail(), 'not-the-Password-0')).statusCode, 401)
  t.ok(performance.now() - started >= floor - 1, 'the first failure, of an unknown email, already waits as long as an imported hash takes')
})

t.test('foreignHashSample: only imported users whose hash is not yet argon2id', async (t) => {
  const app = await build(t)
  t.equal(await app.store.users.foreignHashSample(), undefined, 'no users')
  await join(app)
  t.equal(await app.store.users.foreignHashSample(), undefined, 'a native user')
})
