import t from 'tap'
import { buildWithLogs, cookiesOf, PASSWORD, post, uniqueEmail } from './helper.js'

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
  const db = (await import('better-sqlite3')).default
  const config = app.config
  if (config.database.kind !== 'sqlite') throw new Error('sqlite expected')
  const raw = new db(config.database.path)
  raw.exec("CREATE TRIGGER no_users BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'insert refused'); END")
  raw.close()
  const res = await post(app, '/account/join', { email, password: PASSWORD })
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'INTERNAL_ERROR')
  const text = logs.join('')
  t.match(text, /insert refused/, 'the cause is logged')
  t.notOk(text.includes('$argon2id$'), 'the hash bound to the query is not')
  t.notOk(text.includes(email), 'nor the other values')
})

t.test('a drizzle query error is logged as its cause, never with its params', async (t) => {
  const { DrizzleQueryError } = await import('drizzle-orm')
  const { buildApp } = await import('../src/app.js')
  const { Writable } = await import('node:stream')
  const { testConfig } = await import('./helper.js')
  const logs: string[] = []
  const app = await buildApp(testConfig(t, { LOG_LEVEL: 'info' }), { logStream: new Writable({ write (c, _e, done) { logs.push(String(c)); done() } }) })
  t.teardown(() => app.close())
  app.get('/query-fails', async () => {
    throw new DrizzleQueryError('insert into users values (?, ?)', ['$argon2id$v=19$m=19456$SECRET', 'who@example.com'], Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }))
  })
  app.get('/query-bug', async () => {
    throw new DrizzleQueryError('select ?', ['$argon2id$v=19$OTHER'], new Error('no such column'))
  })
  await app.ready()
  const storage = await app.inject({ url: '/query-fails' })
  t.equal(storage.statusCode, 503)
  t.equal(storage.json().code, 'SERVICE_UNAVAILABLE')
  t.ok(Number(storage.headers['retry-after']) > 0)
  t.equal((await app.inject({ url: '/query-bug' })).statusCode, 500)
  const text = logs.join('')
  t.match(text, /disk I\/O error/)
  t.match(text, /no such column/)
  t.notOk(text.includes('$argon2id$'), 'no hash from the params')
  t.notOk(text.includes('who@example.com'), 'no other params')
})
