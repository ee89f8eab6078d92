import t from 'tap'
import { bearer, buildWithLogs, captureLogs, cookiesOf, decodeJwt, forgeJwt, join, nowSeconds, PASSWORD, post, refresh, testConfig, uniqueEmail } from './helpers/app.js'
import { legacySecret } from '../src/keys/legacy-secret.js'

t.test('no token, password or hash ever reaches the log, even at trace level', async (t) => {
  const { app, logs } = await buildWithLogs(t, { LOG_LEVEL: 'trace' })
  const email = uniqueEmail()
  const joined = await post(app, '/account/join', { email, password: PASSWORD })
  const { access, refresh } = joined.json()
  const csrf = cookiesOf(joined).csrf_token ?? ''
  await post(app, '/account/login', { email, password: 'Wrong-password-123' })
  const login = (await post(app, '/account/login', { email, password: PASSWORD })).json()
  await app.inject({ url: '/account/mypage', headers: { authorization: `Bearer ${access as string}` } })
  await app.inject({ method: 'POST', url: '/account/token/refresh', cookies: { refresh_token: login.refresh, csrf_token: csrf }, headers: { 'x-csrf-token': csrf } })
  await post(app, '/account/token/verify', { token: refresh })
  await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'Another-pass-456' }, { authorization: `Bearer ${access as string}` })
  await post(app, '/account/logout', { refresh })
  const text = logs.join('')
  t.ok(logs.length > 10, `${logs.length} lines captured`)
  for (const secret of [PASSWORD, 'Wrong-password-123', 'Another-pass-456', access, refresh, login.access, login.refresh, csrf, '$argon2id$']) {
    t.notOk(text.includes(secret), `not logged: ${String(secret).slice(0, 12)}…`)
  }
})

t.test('security events are logged as data', async (t) => {
  const { app, logs } = await buildWithLogs(t)
  const email = uniqueEmail()
  await post(app, '/account/join', { email, password: PASSWORD })
  await post(app, '/account/login', { email, password: 'Wrong-password-123' })
  await post(app, '/account/login', { email, password: PASSWORD })
  const events = logs.map((l) => JSON.parse(l) as { event?: string }).map((l) => l.event).filter((e) => e !== undefined)
  for (const e of ['user_joined', 'login_failed', 'login']) t.ok(events.includes(e), e)
})

t.test('a failing query is logged without its bound values', async (t) => {
  const { app, logs } = await buildWithLogs(t)
  const email = uniqueEmail()
  // Make the next user insert fail inside SQLite (not a unique violation): a
  // trigger raises an error, which drizzle wraps with the statement's values.
  const Database = (await import('better-sqlite3')).default
  const config = app.config
  if (config.database.kind !== 'sqlite') throw new Error('sqlite expected')
  const raw = new Database(config.database.path)
  // SQLite's message repeats what the trigger says, here the row's values.
  raw.exec("CREATE TRIGGER no_users BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'insert refused for ' || NEW.email || ' ' || NEW.password_hash); END")
  raw.close()
  const res = await post(app, '/account/join', { email, password: PASSWORD })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'INTERNAL_ERROR')
  const text = logs.join('')
  const line = logs.map((l) => JSON.parse(l) as { msg?: string, err?: Record<string, unknown> }).find((l) => l.msg === 'unhandled error')
  t.match(line?.err, { type: 'SqliteError', code: 'SQLITE_CONSTRAINT_TRIGGER', message: /not logged/ }, 'the cause is logged: its type and code')
  t.notOk(text.includes('insert refused'), 'not the driver\'s message, which quotes the row')
  t.notOk(text.includes('$argon2id$'), 'the hash bound to the query is not')
  t.notOk(text.includes(email), 'nor the other values')
})

t.test('a drizzle query error is logged as its cause, never with its params', async (t) => {
  const { DrizzleQueryError } = await import('drizzle-orm')
  const { buildApp } = await import('../src/app.js')
  const { logs, logStream } = captureLogs()
  const app = await buildApp(testConfig(t, { LOG_LEVEL: 'info' }), { logStream })
  t.teardown(() => app.close())
  // What the store throws for it (its errors.ts): drizzle's error never leaves a store.
  const { domainError } = await import('../src/db/sqlite/errors.js')
  const { domainError: pgDomainError } = await import('../src/db/postgres/errors.js')
  app.get('/query-fails', async () => {
    throw domainError(new DrizzleQueryError('insert into users values (?, ?)', ['$argon2id$v=19$m=19456$SECRET', 'who@example.com'], Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })))
  })
  app.get('/pg-query-fails', async () => {
    throw pgDomainError(new DrizzleQueryError('select * from users where email = $1', ['pg-who@example.com'], Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })))
  })
  app.get('/query-bug', async () => {
    throw domainError(new DrizzleQueryError('select ?', ['$argon2id$v=19$OTHER'], Object.assign(new Error('CHECK constraint failed: length(email) < 3 (bug@example.com)'), { code: 'SQLITE_CONSTRAINT_CHECK' })))
  })
  // ioredis's error carries its command, whose arguments are the rate limits' keys (emails).
  app.get('/redis-fails', async () => {
    throw Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), { name: 'ReplyError', command: { name: 'incr', args: ['rl:login-email:redis-who@example.com'] } })
  })
  // node-postgres's error of a unique violation names the value in `detail`.
  app.get('/pg-query-bug', async () => {
    throw pgDomainError(new DrizzleQueryError('insert into users values ($1)', ['pg-bug@example.com'], Object.assign(new Error('duplicate key value violates unique constraint "users_email_key"'), { code: '23505', severity: 'ERROR', routine: '_bt_check_unique', detail: 'Key (email)=(pg-bug@example.com) already exists.', constraint: 'users_email_key', table: 'users' })))
  })
  await app.ready()
  const storage = await app.inject({ url: '/query-fails' })
  t.equal(storage.statusCode, 503)
  t.equal(storage.json().code, 'SERVICE_UNAVAILABLE')
  t.ok(Number(storage.headers['retry-after']) > 0)
  t.equal((await app.inject({ url: '/pg-query-fails' })).statusCode, 503)
  t.equal((await app.inject({ url: '/query-bug' })).statusCode, 500)
  t.equal((await app.inject({ url: '/pg-query-bug' })).statusCode, 500)
  t.equal((await app.inject({ url: '/redis-fails' })).statusCode, 500)
  const text = logs.join('')
  const lines = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { msg?: string, storage?: string, err?: Record<string, unknown> })
  t.match(lines.filter((l) => l.msg === 'storage unavailable'), [
    { storage: 'SQLITE_IOERR', err: { message: 'disk I/O error' } },
    { storage: '57P01', err: { message: 'terminating connection due to administrator command' } }
  ], 'one line each, with the driver\'s code and message')
  t.match(text, /disk I\/O error/)
  t.match(lines.filter((l) => l.msg === 'unhandled error').map((l) => l.err), [
    { code: 'SQLITE_CONSTRAINT_CHECK' },
    { code: '23505', constraint: 'users_email_key', table: 'users' }
  ], 'a bug\'s driver error: its code and schema names')
  t.notOk(text.includes('bug@example.com'), 'not the values its message or detail quote')
  t.notOk(text.includes('redis-who@example.com'), 'nor a Redis command\'s arguments')
  t.notOk(text.includes('$argon2id$'), 'no hash from the params')
  t.notOk(text.includes('who@example.com'), 'no other params')
})

interface Line { reqId?: string, msg?: string, event?: string, method?: string, route?: string, path?: string, status?: number, ms?: number, userId?: string, [k: string]: unknown }
const parse = (logs: string[]): Line[] => logs.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line)

t.test('one line per completed request: method, route, status, time, request id, user id', async (t) => {
  const { app, logs } = await buildWithLogs(t)
  const session = await join(app)
  logs.length = 0
  const mypage = await app.inject({ url: '/account/mypage?x=secret-query', headers: bearer(session.access) })
  const missing = await app.inject({ url: '/nowhere/at/all?token=abc' })
  const lines = parse(logs).filter((l) => l.msg === 'request')
  t.equal(lines.length, 2, 'one line each')
  const [a, b] = lines
  t.match(a, { method: 'GET', route: '/account/mypage', status: 200, userId: session.user.id, reqId: mypage.headers['x-request-id'] })
  t.type(a?.ms, 'number')
  t.notOk(JSON.stringify(a).includes('secret-query'), 'no query string')
  t.match(b, { method: 'GET', path: '/nowhere/at/all', status: 404, reqId: missing.headers['x-request-id'] })
  t.notOk('userId' in (b ?? {}), 'no user when none is known')
  t.notOk(logs.join('').includes('incoming request'), 'Fastify\'s own request lines are off')
})

t.test('X-Request-Id: a caller\'s id is kept, echoed and on every line of its request; a bad one is replaced', async (t) => {
  const { app, logs } = await buildWithLogs(t)
  const email = uniqueEmail()
  await post(app, '/account/join', { email, password: PASSWORD })
  logs.length = 0
  const kept = await post(app, '/account/login', { email, password: 'Wrong-password-123' }, { 'x-request-id': 'gw-7f3a.91:edge' })
  t.equal(kept.headers['x-request-id'], 'gw-7f3a.91:edge', 'echoed')
  const lines = parse(logs)
  t.ok(lines.length >= 2, 'the audit line and the request line')
  for (const line of lines) t.equal(line.reqId, 'gw-7f3a.91:edge', `${line.msg ?? ''} carries the id`)

  const generated = await app.inject({ url: '/health' })
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'a UUID when none is sent')
  for (const bad of ['with space', 'x'.repeat(129), 'quote"and\\back', '{"json":1}']) {
    const res = await app.inject({ url: '/health', headers: { 'x-request-id': bad } })
    t.not(res.headers['x-request-id'], bad, `replaced: ${JSON.stringify(bad.slice(0, 20))}`)
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  }
  const malformed = await app.inject({ url: '/%E0%A4%A', headers: { 'x-request-id': 'bad-url-1' } })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.headers['x-request-id'], 'bad-url-1', 'echoed on a malformed URL too')
})

t.test('one audit line per login, failed login, logout, reuse detection and password change', async (t) => {
  const { app, logs } = await buildWithLogs(t)
  const session = await join(app)
  const audit = (event: string): Line[] => parse(logs).filter((l) => l.event === event)

  logs.length = 0
  await post(app, '/account/login', { email: session.email, password: 'Wrong-password-123' })
  const failed = audit('login_failed')
  t.equal(failed.length, 1, 'login_failed')
  t.match(failed[0], { code: 'INVALID_CREDENTIALS', ip: '127.0.0.1' })

  logs.length = 0
  const login = (await post(app, '/account/login', { email: session.email, password: PASSWORD })).json()
  t.equal(audit('login').length, 1, 'one login line')
  t.match(audit('login'), [{ userId: session.user.id, ip: '127.0.0.1' }], 'login')

  const rotated = (await refresh(app, login.refresh)).json()
  logs.length = 0
  t.equal((await refresh(app, login.refresh)).json().refresh, rotated.refresh, 'a replay inside the grace window')
  t.equal(audit('refresh_grace_replay').length, 1, 'one grace-replay line')
  t.match(audit('refresh_grace_replay'), [{ userId: session.user.id }])
  const next = (await refresh(app, rotated.refresh)).json()
  logs.length = 0
  t.equal((await refresh(app, login.refresh)).statusCode, 401, 'an older token of the chain: reuse')
  t.equal(audit('refresh_reuse_detected').length, 1, 'one reuse line')
  t.match(audit('refresh_reuse_detected'), [{ userId: session.user.id }])

  logs.length = 0
  await post(app, '/account/logout', { refresh: next.refresh })
  t.equal(audit('logout').length, 1, 'logout')

  logs.length = 0
  await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'Another-pass-456' }, bearer(session.access))
  t.equal(audit('password_changed').length, 1, 'one password_changed line')
  t.match(audit('password_changed'), [{ userId: session.user.id }], 'password_changed')

  for (const line of parse(logs)) t.type(line.reqId, 'string', 'every request-scoped line has its request id')
})

t.test('no audit line for a request without any credential (anonymous forward-auth); one for a refused token', async (t) => {
  const { app, config, logs } = await buildWithLogs(t)
  const session = await join(app)
  const audit = (): Line[] => parse(logs).filter((l) => l.event !== undefined)

  logs.length = 0
  for (const method of ['GET', 'POST', 'HEAD'] as const) {
    t.equal((await app.inject({ method, url: '/account/forward-auth/some/public/page' })).statusCode, 401, `${method}: anonymous`)
  }
  t.equal((await app.inject({ url: '/account/mypage' })).statusCode, 401, 'any route without a credential')
  t.same(audit(), [], 'no audit line for an absent credential')
  t.same(parse(logs).filter((l) => l.msg === 'request').map((l) => l.status), [401, 401, 401, 401], 'the request lines record the 401s')

  const refused: Array<[string, Record<string, string>, string]> = [
    ['token_invalid', bearer(forgeJwt({ alg: 'HS256', typ: 'JWT' }, decodeJwt(session.access).payload, 'wrong-secret-wrong-secret-wrong-secret')), '/account/forward-auth'],
    ['token_expired', bearer(forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...decodeJwt(session.access).payload, iat: nowSeconds() - 900, exp: nowSeconds() - 600 }, legacySecret(config))), '/account/forward-auth']
  ]
  for (const [event, headers, url] of refused) {
    logs.length = 0
    t.equal((await app.inject({ url, headers })).statusCode, 401, event)
    t.match(audit(), [{ event, ip: '127.0.0.1', url }], `one ${event} line`)
    t.equal(audit().length, 1)
  }
  await post(app, '/account/logout', { refresh: session.refresh })
  logs.length = 0
  t.equal((await post(app, '/account/token/verify', { token: session.refresh })).json().code, 'TOKEN_REVOKED')
  t.match(audit(), [{ event: 'token_revoked', url: '/account/token/verify' }], 'one token_revoked line')
  t.equal(audit().length, 1)
})
