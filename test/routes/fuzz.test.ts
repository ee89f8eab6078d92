import { createHash, createHmac } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import { join as joinPath } from 'node:path'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import t from 'tap'
import { build, join, PASSWORD, tempDir, testConfig, type Session } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'
import { envNumber } from '../helpers/http.js'
import { legacySecret } from '../../src/keys/legacy-secret.js'

/*
 * Property-based fuzzing of every endpoint: bodies (random JSON, wrong types,
 * unicode, huge values, prototype-pollution keys, broken JSON), headers,
 * cookies and token strings. For every request:
 * - never a 5xx;
 * - every error is the contract's JSON shape (statusCode/error/code/message,
 *   optional details), without a stack, with WWW-Authenticate on a 401;
 * - a rejected request (4xx) changes nothing in the database (except reuse
 *   of a rotated refresh token, which the contract answers by revoking its family).
 * FUZZ_RUNS (default 100 per property) and FUZZ_SEED (fixed by default, so CI
 * is reproducible) are the knobs; fast-check prints seed and path on failure.
 * TEST_STORE=postgres runs it all against a PostgreSQL-backed service
 * (test/integration/postgres-suites.test.ts does).
 */

const RUNS = envNumber('FUZZ_RUNS', 100)
const SEED = envNumber('FUZZ_SEED', 8725)
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true }

const POSTS = ['/account/join', '/account/login', '/account/token/refresh', '/account/token/verify', '/account/logout', '/account/password/change',
  '/account/login/mfa', '/account/mfa/totp/setup', '/account/mfa/totp/confirm', '/account/mfa/recovery-codes']
const GETS = ['/account/mypage', '/account/token/verify', '/health', '/account/mfa']
const FIELDS = ['email', 'password', 'name', 'gender', 'date_of_birth', 'phone_number', 'refresh', 'token', 'all', 'old_password', 'new_password', 'mfa_token', 'code', 'recovery_code']
/** The contract's error codes, and the service's SERVICE_UNAVAILABLE (503). */
const CODES = new Set(['VALIDATION_ERROR', 'WEAK_PASSWORD', 'EMAIL_TAKEN', 'INVALID_CREDENTIALS', 'ACCOUNT_INACTIVE', 'TOKEN_MISSING', 'TOKEN_INVALID',
  'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'INVALID_PASSWORD', 'CSRF_FAILED', 'RATE_LIMITED', 'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE', 'NOT_FOUND', 'SERVICE_UNAVAILABLE',
  'MFA_CODE_INVALID', 'MFA_TOKEN_INVALID', 'MFA_SETUP_REQUIRED', 'MFA_ALREADY_ENABLED', 'MFA_NOT_ENABLED'])
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isAdmin', '']

interface World {
  app: FastifyInstance
  secret: string
  session: Session
  /** A hash of every row: on SQLite read in place, on PostgreSQL (TEST_STORE=postgres) over a connection of its own. */
  snapshot: () => string | Promise<string>
  /** Answers seen, by status and code: the fuzzer must reach past the first check. */
  seen: Map<string, number>
}

async function world (t: Parameters<typeof build>[0]): Promise<World> {
  const seen = new Map<string, number>()
  const hash = (rows: unknown): string => createHash('sha256').update(JSON.stringify(rows)).digest('hex')
  if (process.env.TEST_STORE === 'postgres') {
    const url = await testDatabase(t)
    const config = testConfig(t, { DATABASE_URL: url, JWT_SECRET: 'fuzz-postgres-secret-0123456789abcdef' })
    const app = await build(t, {}, config)
    const session = await join(app, { email: 'fuzz-owner@example.com' })
    const reader = new pg.Client({ connectionString: url })
    await reader.connect()
    t.teardown(async () => { await reader.end() })
    const snapshot = async (): Promise<string> => hash([
      (await reader.query('SELECT * FROM users ORDER BY id')).rows,
      (await reader.query('SELECT * FROM refresh_tokens ORDER BY id')).rows
    ])
    return { app, secret: legacySecret(config), session, snapshot, seen }
  }
  const dbPath = joinPath(tempDir(t), 'auth.db')
  const config = testConfig(t, { DATABASE_URL: dbPath })
  const app = await build(t, {}, config)
  const session = await join(app, { email: 'fuzz-owner@example.com' })
  const reader = new Database(dbPath, { readonly: true })
  t.teardown(() => reader.close())
  const users = reader.prepare('SELECT * FROM users ORDER BY id')
  const tokens = reader.prepare('SELECT * FROM refresh_tokens ORDER BY id')
  const snapshot = (): string => hash([users.all(), tokens.all()])
  return { app, secret: legacySecret(config), session, snapshot, seen }
}

/** The contract's error shape, or a reason why not. */
function shapeProblem (res: LightMyRequestResponse): string | undefined {
  if (res.statusCode >= 500) return `5xx: ${res.statusCode} ${res.body.slice(0, 300)}`
  if (/\n\s+at |\.ts:\d+|\.js:\d+|SQLITE|node_modules/.test(res.body)) return `internals in the body: ${res.body.slice(0, 300)}`
  if (res.statusCode < 400) return undefined
  if (!String(res.headers['content-type']).startsWith('application/json')) return `error is not JSON: ${String(res.headers['content-type'])}`
  let body: Record<string, unknown>
  try { body = JSON.parse(res.body) as Record<string, unknown> } catch { return `error body is not JSON: ${res.body.slice(0, 200)}` }
  const keys = Object.keys(body).sort().join(',')
  if (keys !== 'code,error,message,statusCode' && keys !== 'code,details,error,message,statusCode') return `error keys: ${keys}`
  if (body.statusCode !== res.statusCode) return `statusCode ${String(body.statusCode)} in a ${res.statusCode}`
  if (body.error !== STATUS_CODES[res.statusCode]) return `error "${String(body.error)}" for ${res.statusCode}`
  if (typeof body.code !== 'string' || !CODES.has(body.code)) return `code ${JSON.stringify(body.code)} is not one of the contract's`
  if (typeof body.message !== 'string' || body.message === '') return 'no message'
  if (body.code === 'VALIDATION_ERROR' && !(Array.isArray(body.details) && body.details.length > 0)) return 'VALIDATION_ERROR without details'
  if (body.details !== undefined && !(Array.isArray(body.details) && body.details.every((d: { field?: unknown, message?: unknown }) => typeof d.field === 'string' && typeof d.message === 'string'))) return `details ${JSON.stringify(body.details)}`
  if (res.statusCode === 401 && res.headers['www-authenticate'] === undefined) return '401 without WWW-Authenticate'
  return undefined
}

/** Sends one request and checks the three properties; throws (for fast-check) on a violation. */
async function probe (w: World, options: InjectOptions): Promise<LightMyRequestResponse> {
  const before = await w.snapshot()
  const protoBefore = Object.getOwnPropertyNames(Object.prototype).join(',')
  const res = await w.app.inject(options)
  const code = /"code":"([A-Z_]+)"/.exec(res.body)?.[1]
  const key = `${res.statusCode}${res.statusCode >= 400 && code !== undefined ? ` ${code}` : ''}`
  w.seen.set(key, (w.seen.get(key) ?? 0) + 1)
  // A HEAD answer has no body to check; its status still may not be a 5xx.
  const problem = options.method === 'HEAD' ? (res.statusCode >= 500 ? `5xx: ${res.statusCode}` : undefined) : shapeProblem(res)
  const what = `${String(options.method)} ${String(options.url)} ${JSON.stringify(options.headers ?? {}).slice(0, 300)} ${String(options.payload ?? '').slice(0, 300)}`
  if (problem !== undefined) throw new Error(`${problem}\n  request: ${what}`)
  // (TOKEN_REVOKED is the one refusal that must write: reuse of a rotated token revokes its family.)
  if (res.statusCode >= 400 && code !== 'TOKEN_REVOKED' && await w.snapshot() !== before) throw new Error(`a rejected request (${res.statusCode} ${res.body.slice(0, 200)}) changed the database\n  request: ${what}`)
  if (Object.getOwnPropertyNames(Object.prototype).join(',') !== protoBefore || ({} as Record<string, unknown>).isAdmin !== undefined) {
    throw new Error(`Object.prototype was polluted\n  request: ${what}`)
  }
  return res
}

/** Reports what the run reached; a fuzzer stuck at one answer would prove little. */
function reached (t: Parameters<typeof build>[0], w: World, atLeast: number): void {
  const summary = [...w.seen].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ')
  t.ok(w.seen.size >= atLeast, `${w.seen.size} distinct answers (${summary})`)
}

// ---- arbitraries ----------------------------------------------------------

const unicode = fc.string({ unit: 'binary', maxLength: 40 })
const huge = fc.constantFrom(10, 1000, 5000, 20000).map((n) => 'é\u{1F600}x'.repeat(n))
const weirdNumber = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 0.1))
/** Any value of any JSON type, biased to the troublesome ones. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  unicode, huge, weirdNumber, fc.boolean(), fc.constant(null),
  fc.emailAddress(), fc.constantFrom('male', 'female', 'MALE', '1990-04-01', '2999-01-01', '1990-02-30', '+82 10-1234-5678', PASSWORD, 'password'),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom(...HOSTILE_KEYS, ...FIELDS), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 })
)
/** An object body written as raw JSON text, so that `__proto__` and duplicated keys reach the parser verbatim. */
const objectText = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), fc.constantFrom(...HOSTILE_KEYS), unicode), anyValue), { maxLength: 6 })
  .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`)
/** Values for each field: mostly plausible, sometimes anything at all. */
const mostly = (plausible: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: plausible, weight: 5 }, { arbitrary: anyValue, weight: 1 })
const FIELD_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  email: mostly(fc.oneof(fc.emailAddress(), fc.constantFrom('fuzz-owner@example.com', 'FUZZ-OWNER@example.com ', 'a@b', 'ünï@cödé.example'))),
  password: mostly(fc.oneof({ arbitrary: fc.constantFrom(PASSWORD, 'another-Horse-battery-7'), weight: 4 }, fc.constantFrom('12345678', 'short', 'password1'), unicode)),
  name: mostly(fc.oneof(unicode, fc.constant('x'.repeat(151)))),
  gender: mostly(fc.constantFrom('male', 'female', null)),
  date_of_birth: mostly(fc.constantFrom('1990-04-01', null, '2100-01-01', '1990-13-01', '1990-02-30')),
  phone_number: mostly(fc.constantFrom('+82 10-1234-5678', null, '()', '1'.repeat(21))),
  refresh: mostly(fc.constantFrom('', 'x', 'a.b.c')),
  token: mostly(fc.constantFrom('', 'x', 'a.b.c')),
  all: mostly(fc.boolean()),
  old_password: mostly(fc.constant(PASSWORD)),
  new_password: mostly(fc.constant('another-Horse-battery-7'))
}
const ENDPOINT_FIELDS: Record<string, string[]> = {
  '/account/join': ['email', 'password', 'name', 'gender', 'date_of_birth', 'phone_number'],
  '/account/login': ['email', 'password'],
  '/account/token/refresh': ['refresh'],
  '/account/token/verify': ['token'],
  '/account/logout': ['refresh', 'all'],
  '/account/password/change': ['old_password', 'new_password']
}
/** A body close to valid for `url`: its own fields (each plausible or not), sometimes one stray key. */
const nearlyValid = (url: string): fc.Arbitrary<string> => {
  const fields = ENDPOINT_FIELDS[url] ?? []
  return fc.tuple(
    fc.record(Object.fromEntries(fields.map((f) => [f, FIELD_VALUES[f]!])), { requiredKeys: fields.slice(0, 2) }),
    fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, { arbitrary: fc.tuple(fc.constantFrom(...HOSTILE_KEYS, ...FIELDS), anyValue), weight: 1 })
  ).map(([record, stray]) => {
    const text = JSON.stringify(record)
    return stray === null ? text : text.replace(/^\{/, `{${JSON.stringify(stray[0])}:${JSON.stringify(stray[1]) ?? 'null'}${text === '{}' ? '' : ','}`)
  })
}
const brokenJson = fc.oneof(unicode, fc.constantFrom('{', '{"email":', '[', 'nul', '{"a":1}}', '\u0000', '{"__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"isAdmin":true}}}', ''))
/** A join that should succeed: fresh email, strong password, any (valid) unicode name. */
const validJoin = fc.record({ email: fc.uuid().map((u) => `fuzz-${u}@example.com`), password: fc.constant(PASSWORD), name: fc.string({ unit: 'grapheme', maxLength: 30 }) })
  .map((o) => JSON.stringify(o))
const bodyFor = (url: string): fc.Arbitrary<string> => fc.oneof(
  { arbitrary: url === '/account/join' ? validJoin : nearlyValid(url), weight: 2 },
  { arbitrary: nearlyValid(url), weight: 4 },
  { arbitrary: objectText, weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), weight: 1 },
  { arbitrary: brokenJson, weight: 1 }
)
const body = fc.constantFrom(...POSTS).chain(bodyFor)

/** A header value a real client could send (latin-1 bytes: UTF-8 text goes over the wire as such). */
// eslint-disable-next-line no-control-regex -- control characters are what HTTP headers may not carry
const headerText = (arb: fc.Arbitrary<string>): fc.Arbitrary<string> => arb.map((s) => Buffer.from(s, 'utf8').toString('latin1').replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, ''))
const contentType = fc.oneof(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-16', 'APPLICATION/JSON',
  'application/json;;', 'application/jsonx', 'text/json', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data', ''), headerText(unicode))

function b64 (v: unknown): string { return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url') }

/** Token strings: random text, mutated genuine tokens, and tokens signed with the real key around random claims. */
function tokens (w: World): fc.Arbitrary<string> {
  const genuine = [w.session.access, w.session.refresh]
  const claims = fc.record({
    token_type: fc.oneof(fc.constantFrom('access', 'refresh'), anyValue),
    jti: fc.oneof(fc.uuid(), anyValue),
    sub: fc.oneof(fc.constant(String(w.session.user.id)), anyValue),
    user_id: fc.oneof(fc.constant(String(w.session.user.id)), anyValue),
    iat: fc.oneof(fc.constant(Math.floor(Date.now() / 1000)), anyValue),
    exp: fc.oneof(fc.constant(Math.floor(Date.now() / 1000) + 300), anyValue),
    nbf: anyValue,
    email: anyValue
  }, { requiredKeys: [] })
  const header = fc.oneof(fc.constant({ alg: 'HS256', typ: 'JWT' }), fc.record({ alg: fc.oneof(fc.constantFrom('HS256', 'none', 'RS256'), anyValue), typ: anyValue, kid: anyValue, crit: anyValue }, { requiredKeys: [] }))
  const signed = fc.tuple(header, claims).map(([h, c]) => {
    const input = `${b64(h)}.${b64(c)}`
    return `${input}.${createHmac('sha256', w.secret).update(input).digest('base64url')}`
  })
  const mutated = fc.tuple(fc.constantFrom(...genuine), fc.nat(), fc.constantFrom('flip', 'cut', 'dup', 'swap', 'pad', 'case')).map(([tok, n, how]) => {
    const i = n % tok.length
    if (how === 'flip') return tok.slice(0, i) + (tok[i] === 'A' ? 'B' : 'A') + tok.slice(i + 1)
    if (how === 'cut') return tok.slice(0, i)
    if (how === 'dup') return `${tok}.${tok}`
    if (how === 'swap') { const [h, p, s] = tok.split('.'); return `${p}.${h}.${s}` }
    if (how === 'pad') return `${tok}${'='.repeat(1 + (n % 3))}`
    return tok.toUpperCase()
  })
  return fc.oneof(unicode, headerText(unicode), huge, signed, mutated, fc.constantFrom('', '.', '..', 'null', 'undefined', 'Bearer', ...genuine))
}

/** Random request headers: authorization, cookies, CSRF, content type. */
function headers (w: World): fc.Arbitrary<Record<string, string>> {
  const tok = tokens(w)
  const cookieValue = fc.oneof(tok, headerText(unicode), fc.constantFrom('%', '%E0%A4%A', '"quoted"', 'a=b', ''))
  const cookie = fc.array(fc.tuple(fc.constantFrom('access_token', 'refresh_token', 'csrf_token', '__proto__', 'constructor', 'x'), cookieValue), { maxLength: 4 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v.replace(/[;\r\n]/g, '')}`).join('; '))
  return fc.record({
    authorization: fc.oneof(tok.map((x) => `Bearer ${x.replace(/[\r\n]/g, '')}`), fc.constantFrom('Bearer', 'Basic YTpi', 'bearer  x', 'Token abc'), headerText(unicode)),
    cookie,
    'x-csrf-token': fc.oneof(cookieValue, headerText(unicode)).map((x) => x.replace(/[\r\n]/g, '')),
    'content-type': contentType,
    'x-forwarded-for': fc.constantFrom('1.2.3.4', 'garbage', '::1, 10.0.0.1')
  }, { requiredKeys: [] })
}

// ---- properties -------------------------------------------------------------

t.comment(`fuzzing with FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}`)

t.test('POST bodies: any JSON, wrong types, unicode, huge values, prototype keys, broken JSON', async (t) => {
  const w = await world(t)
  const request = fc.constantFrom(...POSTS).chain((url) => bodyFor(url).map((payload) => ({ url, payload })))
  await fc.assert(fc.asyncProperty(request, async ({ url, payload }) => {
    await probe(w, { method: 'POST', url, payload, headers: { 'content-type': 'application/json' } })
  }), params)
  reached(t, w, 5)
})

t.test('headers and cookies: authorization, cookies, CSRF tokens, content types', async (t) => {
  const w = await world(t)
  await fc.assert(fc.asyncProperty(fc.constantFrom(...POSTS.map((u) => ['POST', u] as const), ...GETS.map((u) => ['GET', u] as const)), headers(w), fc.option(body),
    async ([method, url], hs, payload) => {
      await probe(w, { method, url, headers: hs, ...(method === 'POST' && payload !== null ? { payload } : {}) })
    }), params)
  reached(t, w, 5)
})

t.test('token strings wherever a token is read', async (t) => {
  const w = await world(t)
  const tok = tokens(w)
  const places = fc.constantFrom('bearer', 'access-cookie', 'refresh-body', 'refresh-cookie', 'verify-body', 'logout-body', 'logout-cookie', 'gateway-verify', 'logout-all', 'password-change')
  let loggedOutEverywhere = false
  await fc.assert(fc.asyncProperty(places, tok, async (place, x) => {
    const json = { 'content-type': 'application/json' }
    const csrf = { 'x-csrf-token': 'c' }
    const cookies = (name: string): Record<string, string> => ({ cookie: `${name}=${encodeURIComponent(x)}; csrf_token=c` })
    // eslint-disable-next-line no-control-regex -- as headerText
    const auth = { authorization: `Bearer ${Buffer.from(x, 'utf8').toString('latin1').replace(/[\u0000-\u001f\u007f]/g, '')}` }
    const requests: Record<string, InjectOptions> = {
      bearer: { method: 'GET', url: '/account/mypage', headers: auth },
      'access-cookie': { method: 'GET', url: '/account/mypage', headers: cookies('access_token') },
      'refresh-body': { method: 'POST', url: '/account/token/refresh', headers: json, payload: JSON.stringify({ refresh: x }) },
      'refresh-cookie': { method: 'POST', url: '/account/token/refresh', headers: { ...json, ...csrf, ...cookies('refresh_token') }, payload: '{}' },
      'verify-body': { method: 'POST', url: '/account/token/verify', headers: json, payload: JSON.stringify({ token: x }) },
      'logout-body': { method: 'POST', url: '/account/logout', headers: json, payload: JSON.stringify({ refresh: x }) },
      'logout-cookie': { method: 'POST', url: '/account/logout', headers: { ...json, ...csrf, ...cookies('refresh_token') }, payload: '{}' },
      'gateway-verify': { method: 'GET', url: '/account/token/verify', headers: auth },
      'logout-all': { method: 'POST', url: '/account/logout', headers: { ...json, ...auth }, payload: '{"all":true}' },
      'password-change': { method: 'POST', url: '/account/password/change', headers: { ...json, ...auth }, payload: JSON.stringify({ old_password: 'wrong-Horse-battery-1', new_password: 'another-Horse-battery-7' }) }
    }
    const res = await probe(w, requests[place]!)
    // A token signed with the real secret for the real user is a valid one: its
    // "log out everywhere" succeeds, and refuses every access token issued before.
    if (place === 'logout-all' && res.statusCode === 200) loggedOutEverywhere = true
  }), params)
  reached(t, w, 3)
  // The genuine session survived all of it (nothing was revoked by a rejected request),
  // unless a (valid) "log out everywhere" went through.
  const me = await w.app.inject({ url: '/account/mypage', headers: { authorization: `Bearer ${w.session.access}` } })
  if (loggedOutEverywhere) t.equal(me.json().code, 'TOKEN_REVOKED', 'the genuine access token was revoked by a successful log out everywhere')
  else t.equal(me.statusCode, 200, 'the genuine access token still works')
})

t.test('URLs and methods: unknown paths, odd encodings, query strings', async (t) => {
  const w = await world(t)
  const segment = fc.oneof(fc.constantFrom('account', 'login', 'join', 'token', 'refresh', '..', '.', '%2e%2e', '%00', '%', '%ZZ', '', 'health'), fc.webSegment(), unicode.map(encodeURIComponent))
  const url = fc.tuple(fc.array(segment, { maxLength: 5 }), fc.option(fc.webQueryParameters())).map(([segs, q]) => `/${segs.join('/')}${q === null ? '' : `?${q}`}`)
  const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS')
  await fc.assert(fc.asyncProperty(method, url, async (m, u) => {
    await probe(w, { method: m as InjectOptions['method'], url: u, ...(m === 'POST' || m === 'PUT' || m === 'PATCH' ? { payload: '{}', headers: { 'content-type': 'application/json' } } : {}) })
  }), params)
  reached(t, w, 2)
})
