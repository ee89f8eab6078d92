import Database from 'better-sqlite3'
import t from 'tap'
import { build, buildWithLogs, PASSWORD, post, testConfig, uniqueEmail } from '../../helpers/app.js'

t.test('join creates the user and returns it with a token pair', async (t) => {
  const app = await build(t)
  const res = await post(app, '/account/join', {
    email: 'Ana.Lee@Example.COM',
    password: PASSWORD,
    name: 'Ana',
    gender: 'female',
    date_of_birth: '1990-04-01',
    phone_number: '+82 10-1234-5678'
  })
  t.equal(res.statusCode, 201)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['access', 'refresh', 'user'])
  t.match(body.user, {
    email: 'ana.lee@example.com',
    name: 'Ana',
    gender: 'female',
    date_of_birth: '1990-04-01',
    phone_number: '+82 10-1234-5678'
  })
  t.same(Object.keys(body.user).sort(), ['date_joined', 'date_of_birth', 'email', 'email_verified', 'gender', 'id', 'last_login', 'name', 'phone_number'])
  t.type(body.user.id, 'string')
  t.ok(Date.parse(body.user.date_joined) <= Date.now())
  t.type(body.access, 'string')
  t.type(body.refresh, 'string')
  t.notMatch(res.body, /argon2|password/i, 'no password hash in the response')
})

t.test('optional fields default to "" and null', async (t) => {
  const app = await build(t)
  const res = await post(app, '/account/join', { email: uniqueEmail(), password: PASSWORD })
  t.equal(res.statusCode, 201)
  t.match(res.json().user, { name: '', gender: null, date_of_birth: null, phone_number: null })
})

t.test('the password is stored as an argon2id PHC string with OWASP parameters', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  const email = uniqueEmail()
  await post(app, '/account/join', { email, password: PASSWORD })
  if (config.database.kind !== 'sqlite') throw new Error('sqlite expected')
  const db = new Database(config.database.path, { readonly: true })
  t.teardown(() => db.close())
  const row = db.prepare('SELECT password_hash FROM users WHERE email = ?').get(email) as { password_hash: string }
  t.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
  t.notMatch(row.password_hash, PASSWORD)
})

t.test('EMAIL_TAKEN for an email registered in any case', async (t) => {
  const app = await build(t)
  t.equal((await post(app, '/account/join', { email: 'bo@example.com', password: PASSWORD })).statusCode, 201)
  for (const email of ['bo@example.com', 'BO@Example.com']) {
    const res = await post(app, '/account/join', { email, password: PASSWORD })
    t.equal(res.statusCode, 409)
    t.match(res.json(), { statusCode: 409, error: 'Conflict', code: 'EMAIL_TAKEN' })
  }
})

t.test('concurrent joins with one email: exactly one succeeds', async (t) => {
  const app = await build(t)
  const email = uniqueEmail()
  const results = await Promise.all(Array.from({ length: 8 }, async () => await post(app, '/account/join', { email, password: PASSWORD })))
  t.same(results.map((r) => r.statusCode).sort(), [201, 409, 409, 409, 409, 409, 409, 409])
})

const invalidBodies: Array<[string, Record<string, unknown>, string]> = [
  ['missing email', { password: PASSWORD }, 'email'],
  ['missing password', { email: 'x@example.com' }, 'password'],
  ['unknown field', { email: 'x@example.com', password: PASSWORD, is_staff: true }, 'is_staff'],
  ['email not a string', { email: 42, password: PASSWORD }, 'email'],
  ['not an email', { email: 'not-an-email', password: PASSWORD }, 'email'],
  ['password not a string', { email: 'x@example.com', password: 12345678 }, 'password'],
  ['name too long', { email: 'x@example.com', password: PASSWORD, name: 'n'.repeat(151) }, 'name'],
  ['bad gender', { email: 'x@example.com', password: PASSWORD, gender: 'other' }, 'gender'],
  ['not a date', { email: 'x@example.com', password: PASSWORD, date_of_birth: '01/04/1990' }, 'date_of_birth'],
  ['impossible date', { email: 'x@example.com', password: PASSWORD, date_of_birth: '1990-02-30' }, 'date_of_birth'],
  ['future date', { email: 'x@example.com', password: PASSWORD, date_of_birth: '2999-01-01' }, 'date_of_birth'],
  ['phone with letters', { email: 'x@example.com', password: PASSWORD, phone_number: '+82 CALL-ME' }, 'phone_number'],
  ['phone too long', { email: 'x@example.com', password: PASSWORD, phone_number: '1'.repeat(21) }, 'phone_number'],
  ['phone without digits', { email: 'x@example.com', password: PASSWORD, phone_number: '+-()' }, 'phone_number']
]
for (const [what, body, field] of invalidBodies) {
  t.test(`VALIDATION_ERROR: ${what}`, async (t) => {
    const app = await build(t)
    const res = await post(app, '/account/join', body)
    t.equal(res.statusCode, 400)
    const json = res.json()
    t.match(json, { statusCode: 400, error: 'Bad Request', code: 'VALIDATION_ERROR', message: String })
    t.ok(json.details.some((d: { field: string }) => d.field === field), `details name ${field}: ${JSON.stringify(json.details)}`)
    t.equal((await post(app, '/account/login', { email: 'x@example.com', password: PASSWORD })).statusCode, 401, 'no user was created')
  })
}

t.test('VALIDATION_ERROR lists every problem at once', async (t) => {
  const app = await build(t)
  const res = await post(app, '/account/join', { email: 1, password: 2, extra: 3 })
  t.same(res.json().details.map((d: { field: string }) => d.field).sort(), ['email', 'extra', 'password'])
})

const weak: Array<[string, string, Record<string, string>?]> = [
  ['shorter than 8', 'Ab1!xyz'],
  ['longer than 128', 'Ab1!'.repeat(33)],
  ['all digits', '8203918475'],
  ['too common', 'password1'],
  ['too common, in another case', 'QwertyUIOP'],
  ['too close to the email', 'zelda.kim.x', { email: 'zelda.kim@example.com' }],
  ['too close to the name', 'Maximilian1', { name: 'Maximilian' }]
]
for (const [what, password, extra] of weak) {
  t.test(`WEAK_PASSWORD: ${what}`, async (t) => {
    const app = await build(t)
    const res = await post(app, '/account/join', { email: uniqueEmail(), ...extra, password })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { code: 'WEAK_PASSWORD', message: String })
  })
}

t.test('exactly 8 and exactly 128 characters are accepted', async (t) => {
  const app = await build(t)
  t.equal((await post(app, '/account/join', { email: uniqueEmail(), password: 'Zq7!mv2P' })).statusCode, 201)
  t.equal((await post(app, '/account/join', { email: uniqueEmail(), password: 'Zq7!mv2P'.repeat(16) })).statusCode, 201)
})

t.test('join is rate limited per IP', async (t) => {
  const app = await build(t, { RATE_LIMIT_JOIN_MAX: '2', RATE_LIMIT_WINDOW: '60' })
  for (let i = 0; i < 2; i++) t.equal((await post(app, '/account/join', { email: uniqueEmail(), password: PASSWORD })).statusCode, 201)
  const res = await post(app, '/account/join', { email: uniqueEmail(), password: PASSWORD })
  t.equal(res.statusCode, 429)
  t.match(res.json(), { statusCode: 429, error: 'Too Many Requests', code: 'RATE_LIMITED' })
  t.ok(Number(res.headers['retry-after']) > 0 && Number(res.headers['retry-after']) <= 60, `Retry-After ${String(res.headers['retry-after'])}`)
  const other = await app.inject({ method: 'POST', url: '/account/join', remoteAddress: '10.9.8.7', payload: { email: uniqueEmail(), password: PASSWORD } })
  t.equal(other.statusCode, 201, 'another IP is not limited')
})

t.test('an audit line is logged for a join, without secrets', async (t) => {
  const { app, logs } = await buildWithLogs(t)
  const email = uniqueEmail()
  await post(app, '/account/join', { email, password: PASSWORD })
  const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>)
  t.ok(lines.some((l) => l.event === 'user_joined' && typeof l.userId === 'string'))
  t.notMatch(logs.join('\n'), PASSWORD)
})
