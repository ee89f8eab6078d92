import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config.js'
import { openStore } from '../../src/db/open.js'
import { projectRoot } from '../../src/paths.js'
import { cli } from '../helpers/cli.js'
import { testDatabase } from '../helpers/postgres.js'
import { bearer, build, login, nowSeconds, PASSWORD, refresh, storeToken, tempDir } from '../helpers/app.js'

/*
 * users …, tokens purge and seed, run in-process against a SQLite file; their
 * effect is checked through the HTTP API of an app on the same file.
 */

type Env = Record<string, string>
const envFor = (t: Test): Env => ({ DATABASE_URL: `file:${join(tempDir(t), 'auth.db')}`, JWT_SECRET: 'x'.repeat(40), COOKIE_SECURE: 'false', RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_JOIN_MAX: '1000' })
const appOn = async (t: Test, env: Env): Promise<FastifyInstance> => await build(t, {}, loadConfig({ ...env, LOG_LEVEL: 'silent' }))
const OTHER_PASSWORD = 'another-Staple-horse-42'

async function created (t: Test, env: Env, email: string, ...extra: string[]) {
  const res = await cli(['users', 'create', '--email', email, '--password', PASSWORD, ...extra], env)
  t.equal(res.code, 0, res.err)
  return res
}

t.test('users create: a user who can log in; --staff; --json; prompts on a terminal', async (t) => {
  const env = envFor(t)
  const res = await created(t, env, 'Ann@Example.test', '--staff', '--json')
  const shown = JSON.parse(res.out) as Record<string, unknown>
  t.match(shown, { email: 'ann@example.test', is_active: true, is_staff: true, is_superuser: false, legacy_id: null })
  t.notOk('password_hash' in shown || 'passwordHash' in shown, 'never the hash')
  const text = await created(t, env, 'ben@example.test')
  t.match(text.out, /^email\s+ben@example\.test$/m)
  t.match(text.out, /^is_staff\s+false$/m)
  const prompted = await cli(['users', 'create', '--email', 'cat@example.test'], env, { answers: [PASSWORD, PASSWORD] })
  t.equal(prompted.code, 0, prompted.err)
  const app = await appOn(t, env)
  for (const email of ['ann@example.test', 'ben@example.test', 'cat@example.test']) t.equal((await login(app, email)).statusCode, 200, email)
})

t.test('users create: its errors', async (t) => {
  const env = envFor(t)
  await created(t, env, 'dup@example.test')
  const cases: Array<[string[], number, RegExp, { answers: string[] }?]> = [
    [['--email', 'DUP@example.test', '--password', PASSWORD], 1, /^error: A user with this email already exists\.$/],
    [['--email', 'weak@example.test', '--password', 'password'], 1, /^error: .*(common|short)/i],
    [['--password', PASSWORD], 2, /^error: --email is required$/],
    [['--email', 'not-an-address', '--password', PASSWORD], 2, /^error: --email must be an email address/],
    [['--email', 'np@example.test'], 2, /^error: --password is required when there is no terminal to ask on$/],
    [['--email', 'mm@example.test'], 1, /^error: the passwords do not match$/, { answers: [PASSWORD, `${PASSWORD}!`] }],
    [['--email', 'x@example.test', 'extra'], 2, /^error: unexpected argument "extra"/]
  ]
  for (const [args, code, message, tty] of cases) {
    const res = await cli(['users', 'create', ...args], env, tty)
    t.equal(res.code, code, args.join(' '))
    t.match(res.err, message, args.join(' '))
    t.equal(res.err.split('\n').length, 1, 'one line')
  }
})

t.test('users list: in the order users joined, --limit, --offset, a "N more" line, --json', async (t) => {
  const env = envFor(t)
  t.match((await cli(['users', 'list'], env)).err, /^no users$/)
  for (const e of ['c@list.test', 'a@list.test', 'b@list.test']) await created(t, env, e)
  const all = await cli(['users', 'list'], env)
  t.equal(all.code, 0)
  t.same(all.out.split('\n').map((l) => l.split('\t')[0]), ['c@list.test', 'a@list.test', 'b@list.test'], 'the order they joined, not by email')
  t.match(all.out, /^c@list\.test\tactive\tjoined \d{4}-.*\tlast login -$/m)
  t.equal(all.err, '', 'no "more" line when all are shown')
  const page = await cli(['users', 'list', '--limit', '1', '--offset', '1', '--json'], env)
  t.same(page.out.split('\n').map((l) => (JSON.parse(l) as { email: string }).email), ['a@list.test'])
  t.equal(page.err, '1 more (--offset 2)', 'how many more, and the offset that shows them')
  t.equal((await cli(['users', 'list', '--limit', '1'], env)).err, '2 more (--offset 1)')
  t.equal((await cli(['users', 'list', '--offset', '0'], env)).out.split('\n').length, 3, '--offset 0 is the start')
  t.equal((await cli(['users', 'list', '--offset', '5'], env)).err, 'no users after the first 3')
  for (const [option, bad] of [['--limit', '0'], ['--limit', '1.5'], ['--limit', 'ten'], ['--offset', '-1'], ['--offset', 'x']]) {
    const res = await cli(['users', 'list', option ?? '', bad ?? ''], env)
    t.equal(res.code, 2, `${option} ${bad}`)
    t.match(res.err, new RegExp(`^error: ${option} must be a whole number|^error: .*${option}`), `${option} ${bad}`)
  }
})

t.test('users list: seeded users in their numbers\' order (user2 before user1000)', async (t) => {
  const env = envFor(t)
  t.equal((await cli(['seed', '--number', '1000', '--password', 'load-test-pw'], env)).code, 0)
  const res = await cli(['users', 'list', '--limit', '3', '--offset', '998'], env)
  t.same(res.out.split('\n').map((l) => l.split('\t')[0]), ['user999@example.test', 'user1000@example.test'])
  const start = await cli(['users', 'list', '--limit', '3'], env)
  t.same(start.out.split('\n').map((l) => l.split('\t')[0]), ['user1@example.test', 'user2@example.test', 'user3@example.test'])
  t.equal(start.err, '997 more (--offset 3)')
})

t.test('EMAIL_VERIFICATION=mandatory: users create --verified and users verify let a user log in', async (t) => {
  const env = { ...envFor(t), EMAIL_VERIFICATION: 'mandatory' }
  const app = await appOn(t, env)
  const made = await created(t, env, 'vee@example.test', '--verified', '--json')
  t.match(JSON.parse(made.out), { email: 'vee@example.test', email_verified: true })
  t.equal((await login(app, 'vee@example.test')).statusCode, 200, 'created verified: logs in')
  await created(t, env, 'unv@example.test')
  t.equal((await login(app, 'unv@example.test')).json().code, 'EMAIL_NOT_VERIFIED', 'created without --verified: refused')
  const verify = await cli(['users', 'verify', 'UNV@example.test'], env)
  t.equal(verify.code, 0, verify.err)
  t.equal(verify.out, 'unv@example.test verified')
  t.equal((await login(app, 'unv@example.test')).statusCode, 200, 'verified: logs in at once')
  t.match(JSON.parse((await cli(['users', 'show', 'unv@example.test', '--json'], env)).out), { email_verified: true })
  t.equal((await cli(['users', 'verify', 'unv@example.test'], env)).out, 'unv@example.test was verified already')
  t.match((await cli(['users', 'list'], env)).out, /^unv@example\.test\tactive,verified\t/m)
  const missing = await cli(['users', 'verify', 'nobody@example.test'], env)
  t.equal(missing.code, 1)
  t.equal(missing.err, 'error: no user with email nobody@example.test')
  t.equal((await cli(['users', 'verify'], env)).code, 2)
})

t.test('users show: text, --json, and a missing user', async (t) => {
  const env = envFor(t)
  await created(t, env, 'show@example.test')
  const text = await cli(['users', 'show', 'SHOW@example.test'], env)
  t.equal(text.code, 0)
  t.match(text.out, /^email\s+show@example\.test$/m)
  t.match(text.out, /^last_login\s+-$/m)
  t.match(JSON.parse((await cli(['users', 'show', 'show@example.test', '--json'], env)).out), { email: 'show@example.test', email_verified: false })
  const missing = await cli(['users', 'show', 'nobody@example.test'], env)
  t.equal(missing.code, 1)
  t.equal(missing.err, 'error: no user with email nobody@example.test')
  t.equal((await cli(['users', 'show'], env)).code, 2)
  for (const command of ['deactivate', 'activate', 'delete', 'set-password']) {
    const res = await cli(['users', command, 'nobody@example.test', '--password', PASSWORD].slice(0, command === 'set-password' ? 5 : 3), env)
    t.equal(res.code, 1, command)
    t.equal(res.err, 'error: no user with email nobody@example.test', command)
  }
})

t.test('users deactivate refuses logins and revokes tokens at once; activate lets the user log in again', async (t) => {
  const env = envFor(t)
  await created(t, env, 'dee@example.test')
  const app = await appOn(t, env)
  const session = (await login(app, 'dee@example.test')).json()
  const res = await cli(['users', 'deactivate', 'dee@example.test'], env)
  t.equal(res.code, 0, res.err)
  t.equal(res.out, 'dee@example.test deactivated; 1 refresh token(s) revoked')
  t.equal((await login(app, 'dee@example.test')).json().code, 'ACCOUNT_INACTIVE')
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(session.access) })).statusCode, 401, 'the access token stops working')
  t.equal((await refresh(app, session.refresh)).statusCode, 401)
  t.equal((await cli(['users', 'activate', 'dee@example.test'], env)).out, 'dee@example.test activated')
  t.equal((await login(app, 'dee@example.test')).statusCode, 200)
  t.equal((await refresh(app, session.refresh)).statusCode, 401, 'tokens revoked at deactivation stay revoked')
})

t.test('users delete removes the user and every token', async (t) => {
  const env = envFor(t)
  await created(t, env, 'del@example.test')
  const app = await appOn(t, env)
  const session = (await login(app, 'del@example.test')).json()
  t.equal((await cli(['users', 'delete', 'del@example.test'], env)).out, 'del@example.test deleted')
  t.equal((await login(app, 'del@example.test')).json().code, 'INVALID_CREDENTIALS')
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(session.access) })).statusCode, 401)
  t.equal((await refresh(app, session.refresh)).statusCode, 401)
  t.equal((await cli(['users', 'show', 'del@example.test'], env)).code, 1)
})

t.test('users set-password: the new password works, the old one and old tokens do not', async (t) => {
  const env = envFor(t)
  await created(t, env, 'pw@example.test')
  const app = await appOn(t, env)
  const session = (await login(app, 'pw@example.test')).json()
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(session.access) })).statusCode, 200, 'the user and the token are known to the app')
  const res = await cli(['users', 'set-password', 'pw@example.test', '--password', OTHER_PASSWORD], env)
  t.equal(res.code, 0, res.err)
  const page = await app.inject({ url: '/account/mypage', headers: bearer(session.access) })
  t.match({ status: page.statusCode, code: page.json().code }, { status: 401, code: 'TOKEN_REVOKED' }, 'the access token issued before is refused at once')
  t.match(res.out, /every refresh token of theirs revoked/)
  t.equal((await login(app, 'pw@example.test')).json().code, 'INVALID_CREDENTIALS')
  t.equal((await login(app, 'pw@example.test', OTHER_PASSWORD)).statusCode, 200)
  t.equal((await refresh(app, session.refresh)).statusCode, 401)
  const weak = await cli(['users', 'set-password', 'pw@example.test', '--password', 'password'], env)
  t.equal(weak.code, 1)
  t.equal((await login(app, 'pw@example.test', OTHER_PASSWORD)).statusCode, 200, 'a refused password changes nothing')
  const prompted = await cli(['users', 'set-password', 'pw@example.test'], env, { answers: [PASSWORD, PASSWORD] })
  t.equal(prompted.code, 0, prompted.err)
  t.equal((await login(app, 'pw@example.test')).statusCode, 200)
  t.equal((await cli(['users', 'set-password', 'pw@example.test'], env)).code, 2, 'no password and no terminal')
})

t.test('tokens purge deletes expired rows and counts them; revoked live ones stay', async (t) => {
  const env = envFor(t)
  await created(t, env, 'tok@example.test')
  const store = await openStore(loadConfig(env))
  const user = await store.users.byEmail('tok@example.test')
  const row = (expiresAt: number) => ({ id: randomUUID(), userId: user?.id ?? '', familyId: randomUUID(), expiresAt, createdAt: nowSeconds() - 100 })
  const [expired, expiredRevoked, revoked] = [row(nowSeconds() - 10), row(nowSeconds() - 10), row(nowSeconds() + 3600)]
  for (const r of [expired, expiredRevoked, revoked]) await storeToken(store, r)
  await store.refreshTokens.revokeFamily(user?.id ?? '', expiredRevoked.familyId, nowSeconds() - 50)
  await store.refreshTokens.revokeFamily(user?.id ?? '', revoked.familyId, nowSeconds() - 50)
  await store.close()
  const res = await cli(['tokens', 'purge', '--json'], env)
  t.equal(res.code, 0, res.err)
  t.same(JSON.parse(res.out), { expired: 2, revoked: 1, legacy_tokens: 0 })
  t.equal((await cli(['tokens', 'purge'], env)).out, 'purged 0 expired refresh token(s) (0 of them revoked) and 0 exchanged simplejwt token(s)')
})

t.test('the server purges at start unless TOKEN_PURGE_INTERVAL is 0', async (t) => {
  for (const [interval, left] of [['1h', 0], ['0', 1]] as const) {
    const env = { ...envFor(t), TOKEN_PURGE_INTERVAL: interval }
    await created(t, env, 'auto@example.test')
    const store = await openStore(loadConfig(env))
    const user = await store.users.byEmail('auto@example.test')
    const id = randomUUID()
    await storeToken(store, { id, userId: user?.id ?? '', familyId: randomUUID(), expiresAt: nowSeconds() - 10, createdAt: nowSeconds() - 100 })
    await store.close()
    const app = await appOn(t, env)
    t.equal((await app.store.refreshTokens.byId(id)) === undefined ? 0 : 1, left, `TOKEN_PURGE_INTERVAL=${interval}`)
  }
})

t.test('seed: exactly user1…userN@example.test, one password, progress, a safe re-run', async (t) => {
  const env = envFor(t)
  const res = await cli(['seed', '--number', '25', '--password', 'load-test-pw', '--batch', '10'], env)
  t.equal(res.code, 0, res.err)
  t.match(res.out, /^seeded 25 user\(s\) in [\d.]+ s$/m)
  t.match(res.out, /log in as user1@example\.test … user25@example\.test/)
  t.same(res.out.split('\n').slice(1), ['log in as user1@example.test … user25@example.test with the --password given:', '  POST /account/login {"email":"user1@example.test","password":"<P>"}'])
  t.notMatch(res.out, /load-test-pw/, 'the password is not echoed')
  t.same(res.err.split('\n'), ['seeded 10/25', 'seeded 20/25', 'seeded 25/25'], 'plain lines without a terminal')
  const app = await appOn(t, env)
  for (const n of [1, 13, 25]) t.equal((await login(app, `user${n}@example.test`, 'load-test-pw')).statusCode, 200, `user${n}`)
  t.equal((await login(app, 'user26@example.test', 'load-test-pw')).statusCode, 401)
  const hashes = new Set<string>()
  for (const n of [1, 2, 3]) hashes.add((await app.store.users.byEmail(`user${n}@example.test`))?.passwordHash ?? '')
  t.equal(hashes.size, 1, 'one hash, shared')
  // user1 logged in: its hash is current, the login re-hashed nothing.
  const again = await cli(['seed', '--number', '30', '--password', 'load-test-pw'], env, { answers: [] })
  t.equal(again.code, 0, again.err)
  t.match(again.out, /^seeded 5 user\(s\) in [\d.]+ s \(25 existed already\)$/m)
  t.match(again.frames.at(-1), /^\[#{30}\] 100% 30\/30$/, 'a progress bar on a terminal')
})

t.test('seed: without a terminal it prints what docs/cli.md shows', async (t) => {
  const env = envFor(t)
  const doc = readFileSync(join(projectRoot, 'docs', 'cli.md'), 'utf8')
  const block = /```\n\$ npm run -s cli -- seed --number 25 --password load-test-pw --batch 10 2>&1\n([^`]*)```/.exec(doc)?.[1]
  t.ok(block, 'docs/cli.md shows a seed run')
  const res = await cli(['seed', '--number', '25', '--password', 'load-test-pw', '--batch', '10'], env)
  // Standard error (progress) comes first here, as the lines arrive on a terminal.
  const printed = [...res.err.split('\n'), ...res.out.split('\n')].join('\n').replace(/in [\d.]+ s/, 'in 0.1 s')
  t.equal(printed, block?.trimEnd())
  const mandatory = /```\n\$ EMAIL_VERIFICATION=mandatory npm run -s cli -- seed --number 25 --password load-test-pw --batch 10 2>&1\n([^`]*)```/.exec(doc)?.[1]
  t.ok(mandatory, 'and one under EMAIL_VERIFICATION=mandatory')
  const res2 = await cli(['seed', '--number', '25', '--password', 'load-test-pw', '--batch', '10'], { ...envFor(t), EMAIL_VERIFICATION: 'mandatory' })
  t.equal([...res2.err.split('\n'), ...res2.out.split('\n')].join('\n').replace(/in [\d.]+ s/, 'in 0.1 s'), mandatory?.trimEnd())
})

t.test('seed under EMAIL_VERIFICATION=mandatory: the closing lines are true; --verified users log in, existing ones too', async (t) => {
  const env = { ...envFor(t), EMAIL_VERIFICATION: 'mandatory' }
  const app = await appOn(t, env)
  const plain = await cli(['seed', '--number', '3', '--password', 'load-test-pw'], env)
  t.equal(plain.code, 0, plain.err)
  t.notMatch(plain.out, /log in as/, 'no advice to log in that would fail')
  t.match(plain.out, /cannot log in \(403 EMAIL_NOT_VERIFIED\)/)
  t.equal((await login(app, 'user1@example.test', 'load-test-pw')).json().code, 'EMAIL_NOT_VERIFIED', 'as the closing lines say')
  const verified = await cli(['seed', '--number', '5', '--password', 'load-test-pw', '--verified'], env)
  t.equal(verified.code, 0, verified.err)
  t.match(verified.out, /^seeded 2 user\(s\) in [\d.]+ s \(3 existed already\)$/m)
  t.match(verified.out, /^log in as user1@example\.test … user5@example\.test with the --password given:$/m)
  for (const n of [1, 3, 5]) t.equal((await login(app, `user${n}@example.test`, 'load-test-pw')).statusCode, 200, `user${n} logs in (existing ones verified too)`)
  const optional = await cli(['seed', '--number', '2', '--password', 'load-test-pw'], { ...envFor(t), EMAIL_VERIFICATION: 'optional' })
  t.match(optional.out, /^log in as user1@example\.test … user2@example\.test/m, 'optional: unverified users may log in')
})

t.test('seed: its usage errors', async (t) => {
  const env = envFor(t)
  const cases: Array<[string[], RegExp]> = [
    [['--password', 'p'], /^error: --number is required$/],
    [['--number', '0', '--password', 'p'], /^error: --number must be a whole number from 1 to 10000000/],
    [['--number', '10'], /^error: --password is required$/],
    [['--number', '10', '--password', 'p', '--batch', '9999'], /^error: --batch must be a whole number from 1 to 5000/]
  ]
  for (const [args, message] of cases) {
    const res = await cli(['seed', ...args], env)
    t.equal(res.code, 2, args.join(' '))
    t.match(res.err, message)
  }
})

t.test('every new command has --help naming its options', async (t) => {
  const help: Array<[string, RegExp]> = [
    ['users create', /--email E.*--password P.*--staff.*--verified/s],
    ['users list', /--limit N.*--offset M/s],
    ['users set-password', /--password P/],
    ['tokens purge', /TOKEN_PURGE_INTERVAL/],
    ['seed', /--number N.*--password P.*--verified/s],
    ['users verify', /EMAIL_VERIFICATION=mandatory/],
    ['import django', /--db PATH.*--table.*--json FILE/s]
  ]
  for (const [name, re] of help) {
    const res = await cli([...name.split(' '), '--help'])
    t.equal(res.code, 0, name)
    t.match(res.out, re, name)
  }
  t.match((await cli(['users'])).out, /Commands of "users":/)
})

t.test('on PostgreSQL alike: seed --verified, users create --verified, users verify, users list in join order with "N more"', async (t) => {
  const env = { DATABASE_URL: await testDatabase(t), JWT_SECRET: 'x'.repeat(40), COOKIE_SECURE: 'false', RATE_LIMIT_LOGIN_MAX: '1000', EMAIL_VERIFICATION: 'mandatory' }
  const plain = await cli(['seed', '--number', '12', '--password', 'load-test-pw', '--batch', '5'], env)
  t.equal(plain.code, 0, plain.err)
  t.match(plain.out, /cannot log in \(403 EMAIL_NOT_VERIFIED\)/)
  const app = await appOn(t, env)
  t.equal((await login(app, 'user2@example.test', 'load-test-pw')).json().code, 'EMAIL_NOT_VERIFIED')
  t.match((await cli(['seed', '--number', '12', '--password', 'load-test-pw', '--verified'], env)).out, /^log in as user1@example\.test … user12@example\.test/m)
  t.equal((await login(app, 'user2@example.test', 'load-test-pw')).statusCode, 200, 'existing seeded users verified; the cache does not serve the old row')
  await created(t, env, 'pg-made@example.test', '--verified')
  t.equal((await login(app, 'pg-made@example.test')).statusCode, 200)
  await created(t, env, 'pg-late@example.test')
  t.equal((await cli(['users', 'verify', 'pg-late@example.test'], env)).out, 'pg-late@example.test verified')
  t.equal((await login(app, 'pg-late@example.test')).statusCode, 200)
  const page = await cli(['users', 'list', '--limit', '4', '--offset', '9'], env)
  t.same(page.out.split('\n').map((l) => l.split('\t')[0]), ['user10@example.test', 'user11@example.test', 'user12@example.test', 'pg-made@example.test'])
  t.equal(page.err, '1 more (--offset 13)')
})
