import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config.js'
import { cli } from '../helpers/cli.js'
import { bearer, build, decodeJwt, mypage, post, refresh, tempDir } from '../helpers/app.js'

/*
 * tokens issue and seed --tokens, in-process against a SQLite file; the
 * tokens they print are tried on an app on the same file.
 */

type Env = Record<string, string>
const envFor = (t: Test): Env => ({ DATABASE_URL: `file:${join(tempDir(t), 'auth.db')}`, JWT_SECRET: 'x'.repeat(40), COOKIE_SECURE: 'false' })
const appOn = async (t: Test, env: Env): Promise<FastifyInstance> => await build(t, {}, loadConfig({ ...env, LOG_LEVEL: 'silent' }))

interface Line { email: string, user_id: string, access: string, refresh: string }
const jsonl = (text: string): Line[] => text.trim().split('\n').map((l) => JSON.parse(l) as Line)

async function seeded (t: Test, env: Env, n: number): Promise<void> {
  const res = await cli(['seed', '--number', String(n), '--password', 'load-test-pw'], env)
  t.equal(res.code, 0, res.err)
}

t.test('tokens issue: one working login per existing active user, skipped ones counted, one audit line', async (t) => {
  const env = envFor(t)
  await seeded(t, env, 6)
  t.equal((await cli(['users', 'deactivate', 'user3@example.test'], env)).code, 0)
  const res = await cli(['tokens', 'issue', '--pattern', 'User{n}@Example.test', '--from', '2', '--to', '8'], env)
  t.equal(res.code, 0, res.err)
  const lines = jsonl(res.out)
  t.same(lines.map((l) => l.email), ['user2@example.test', 'user4@example.test', 'user5@example.test', 'user6@example.test'], 'in order, normalised, inactive and unknown left out')
  t.same(Object.keys(lines[0] ?? {}), ['email', 'user_id', 'access', 'refresh'])
  t.match(res.err, /^issued 4 login\(s\) in [\d.]+ s; skipped 3: 2 unknown, 1 inactive$/m)
  const audit = res.err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  t.equal(audit.length, 1, 'one audit line')
  t.match(audit[0], { level: 30, time: Number, pid: process.pid, hostname: String, event: 'tokens_issued', count: 4, pattern: 'User{n}@Example.test', lifetime: 300 })
  t.notMatch(res.err, /eyJ/, 'no token on standard error')

  const app = await appOn(t, env)
  for (const line of lines) {
    const me = await mypage(app, line.access)
    t.equal(me.statusCode, 200, line.email)
    t.equal(me.json().user.email, line.email)
    t.equal((await app.inject({ url: '/account/forward-auth', headers: bearer(line.access) })).statusCode, 200, 'forward-auth lets it through')
  }
  const sessions = (await app.inject({ url: '/account/sessions', headers: bearer(lines[0]?.access ?? '') })).json().sessions
  t.match(sessions, [{ id: decodeJwt(lines[0]?.access ?? '').payload.sid, method: 'cli', user_agent: null, ip: null, current: true }], 'a session of its own, method cli')
  const rotated = await refresh(app, lines[0]?.refresh ?? '')
  t.equal(rotated.statusCode, 200, 'the refresh token refreshes')
  t.not(rotated.json().refresh, lines[0]?.refresh, 'and is rotated like any other')
  // An ordinary login: "log out everywhere" ends it.
  const second = lines[1] as Line
  t.equal((await post(app, '/account/logout', { all: true }, bearer(second.access))).statusCode, 200)
  t.equal((await refresh(app, second.refresh)).json().code, 'TOKEN_REVOKED')
})

t.test('tokens issue: --lifetime for the access tokens only; csv; --out is 0600', async (t) => {
  const env = envFor(t)
  await seeded(t, env, 3)
  const out = join(tempDir(t), 'tokens.csv')
  const res = await cli(['tokens', 'issue', '--pattern', 'user{n}@example.test', '--to', '3', '--lifetime', '2h', '--format', 'csv', '--out', out], env)
  t.equal(res.code, 0, res.err)
  t.equal(res.out, '', 'nothing on standard output with --out')
  t.match(res.err, new RegExp(`issued 3 login\\(s\\) in [\\d.]+ s to ${out.replaceAll('.', '\\.')}$`, 'm'))
  t.equal(statSync(out).mode & 0o777, 0o600, 'live credentials: owner only')
  const [header, ...rows] = readFileSync(out, 'utf8').trimEnd().split('\n')
  t.equal(header, 'email,user_id,access,refresh')
  t.equal(rows.length, 3)
  const [email, userId, access, refreshToken] = (rows[0] ?? '').split(',')
  t.equal(email, 'user1@example.test')
  const claims = decodeJwt(access ?? '').payload
  t.equal(claims.sub, userId)
  t.equal(Number(claims.exp) - Number(claims.iat), 7200, '--lifetime 2h')
  const refreshClaims = decodeJwt(refreshToken ?? '').payload
  t.equal(Number(refreshClaims.exp) - Number(refreshClaims.iat), loadConfig(env).refreshTokenLifetime, 'refresh tokens: the usual lifetime')
  const app = await appOn(t, env)
  t.equal((await mypage(app, access ?? '')).statusCode, 200)
})

t.test('seed --tokens: users and their tokens in one step', async (t) => {
  const env = envFor(t)
  const file = join(tempDir(t), 'tokens.jsonl')
  const res = await cli(['seed', '--number', '12', '--password', 'load-test-pw', '--tokens', file, '--lifetime', '1h'], env)
  t.equal(res.code, 0, res.err)
  t.match(res.out, /^seeded 12 user\(s\)/m)
  t.match(res.err, /^issued 12 login\(s\) in [\d.]+ s to /m)
  const lines = jsonl(readFileSync(file, 'utf8'))
  t.same(lines.map((l) => l.email), Array.from({ length: 12 }, (_, i) => `user${i + 1}@example.test`))
  t.equal(statSync(file).mode & 0o777, 0o600)
  const app = await appOn(t, env)
  t.equal((await mypage(app, lines[11]?.access ?? '')).statusCode, 200)
  const usage = await cli(['seed', '--number', '1', '--password', 'p', '--lifetime', '1h'], env)
  t.same([usage.code, usage.err], [2, 'error: --lifetime and --format go with --tokens FILE'])
})

t.test('tokens issue: a progress bar on a terminal, plain lines without', async (t) => {
  const env = envFor(t)
  await seeded(t, env, 2)
  const tty = await cli(['tokens', 'issue', '--pattern', 'user{n}@example.test', '--to', '2'], env, { answers: [] })
  t.match(tty.frames.at(-1), /^\[#{30}\] 100% 2\/2$/)
  const plain = await cli(['tokens', 'issue', '--pattern', 'user{n}@example.test', '--to', '2'], env)
  t.match(plain.err, /^issued 2\/2$/m)
})

t.test('tokens issue: usage errors, and exit code 1 when nobody was found', async (t) => {
  const env = envFor(t)
  await seeded(t, env, 1)
  const cases: Array<[string[], number, RegExp]> = [
    [['--to', '3'], 2, /^error: --pattern is required$/],
    [['--pattern', 'user@example.test', '--to', '3'], 2, /^error: --pattern must contain \{n\} exactly once/],
    [['--pattern', 'u{n}{n}@example.test', '--to', '3'], 2, /^error: --pattern must contain \{n\} exactly once/],
    [['--pattern', 'user{n}@example.test'], 2, /^error: --to is required$/],
    [['--pattern', 'user{n}@example.test', '--from', '5', '--to', '3'], 2, /^error: --to \(3\) must not be below --from \(5\)$/],
    [['--pattern', 'user{n}@example.test', '--to', '3', '--lifetime', '25h'], 2, /^error: --lifetime must be at most 24h, got "25h"$/],
    [['--pattern', 'user{n}@example.test', '--to', '3', '--lifetime', 'soon'], 2, /^error: --lifetime must be a duration/],
    [['--pattern', 'user{n}@example.test', '--to', '3', '--format', 'xml'], 2, /^error: --format must be jsonl or csv, got "xml"$/],
    [['--pattern', 'user{n}@example.test', '--to', '3', '--out', join(tempDir(t), 'no', 'such', 'dir', 'f')], 1, /^error: cannot write .*: ENOENT$/]
  ]
  for (const [args, code, message] of cases) {
    const res = await cli(['tokens', 'issue', ...args], env)
    t.equal(res.code, code, args.join(' '))
    t.match(res.err, message, args.join(' '))
  }
  const none = await cli(['tokens', 'issue', '--pattern', 'ghost{n}@example.test', '--to', '3'], env)
  t.equal(none.code, 1)
  t.match(none.err, /issued 0 login\(s\) in [\d.]+ s; skipped 3: 3 unknown, 0 inactive/)
})
