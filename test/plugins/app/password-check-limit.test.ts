import { Redis } from 'ioredis'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build, deleteMypage, join, NEW_PASSWORD, PASSWORD, post, testConfig } from '../../helpers/app.js'
import { freePort } from '../../../bench/lib/service.js'
import { REDIS_TEST_URL, redisPrefix } from '../../helpers/redis.js'

/*
 * RATE_LIMIT_PASSWORD_CHECK_MAX: every check of the current password behind a
 * session (password change, email change, account deletion) counts against
 * one budget per user and window, right or wrong, in memory or in Redis.
 */

const WRONG = 'not-the-password-1'
const limited = { RATE_LIMIT_PASSWORD_CHECK_MAX: '3' }

const changePassword = async (app: FastifyInstance, access: string, old = WRONG) =>
  await post(app, '/account/password/change', { old_password: old, new_password: NEW_PASSWORD }, bearer(access))
const changeEmail = async (app: FastifyInstance, access: string, password = WRONG) =>
  await post(app, '/account/email/change', { password, new_email: `new-${Math.random()}@example.com` }, bearer(access))
const deleteAccount = async (app: FastifyInstance, access: string, password = WRONG) =>
  await deleteMypage(app, { password }, bearer(access))

t.test('the limit is 5 per RATE_LIMIT_WINDOW by default', async (t) => {
  const { loadConfig } = await import('../../../src/config.js')
  t.equal(loadConfig({}).passwordCheckMax, 5)
  t.equal(loadConfig({ RATE_LIMIT_PASSWORD_CHECK_MAX: '12' }).passwordCheckMax, 12)
  t.throws(() => loadConfig({ RATE_LIMIT_PASSWORD_CHECK_MAX: '0' }), /RATE_LIMIT_PASSWORD_CHECK_MAX/)
})

t.test('password change, email change and deletion share one budget per user; then 429 with Retry-After', async (t) => {
  const app = await build(t, { ...limited, RATE_LIMIT_WINDOW: '30' })
  const s = await join(app)
  const other = await join(app)
  t.equal((await changePassword(app, s.access)).json().code, 'INVALID_PASSWORD')
  t.equal((await changeEmail(app, s.access)).json().code, 'INVALID_PASSWORD')
  t.equal((await deleteAccount(app, s.access)).json().code, 'INVALID_PASSWORD')
  for (const attempt of [changePassword, changeEmail, deleteAccount]) {
    // The right password too: the check is not even made.
    const res = await attempt(app, s.access, PASSWORD)
    t.equal(res.statusCode, 429, attempt.name)
    t.match(res.json(), { statusCode: 429, code: 'RATE_LIMITED' })
    const retry = Number(res.headers['retry-after'])
    t.ok(retry >= 1 && retry <= 30, `Retry-After ${retry}`)
  }
  t.equal((await post(app, '/account/login', { email: s.email, password: PASSWORD })).statusCode, 200, 'login has limits of its own')
  t.equal((await changePassword(app, other.access, PASSWORD)).statusCode, 200, 'another user has a budget of their own')
})

t.test('right passwords count too, and the budget comes back after the window', async (t) => {
  const app = await build(t, { RATE_LIMIT_PASSWORD_CHECK_MAX: '1', RATE_LIMIT_WINDOW: '1' })
  const s = await join(app)
  const first = await changeEmail(app, s.access, PASSWORD)
  t.equal(first.statusCode, 200, first.body)
  t.equal((await changeEmail(app, s.access, PASSWORD)).statusCode, 429)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await changeEmail(app, s.access, PASSWORD)).statusCode, 200, 'a new window')
})

t.test('with REDIS_URL the budget is shared by every instance', async (t) => {
  const prefix = redisPrefix(t)
  const config = testConfig(t, { ...limited, REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: prefix })
  // Two instances on one database and one Redis.
  const a = await build(t, {}, config)
  const b = await build(t, {}, config)
  const s = await join(a)
  t.equal((await changePassword(a, s.access)).statusCode, 400)
  t.equal((await changePassword(b, s.access)).statusCode, 400)
  t.equal((await deleteAccount(a, s.access)).statusCode, 400)
  const refused = await deleteAccount(b, s.access, PASSWORD)
  t.equal(refused.statusCode, 429, 'the fourth check, on the other instance')
  t.equal(refused.json().code, 'RATE_LIMITED')
  t.ok(Number(refused.headers['retry-after']) >= 1)
  const redis = new Redis(REDIS_TEST_URL)
  t.teardown(() => { redis.disconnect() })
  t.same(await redis.keys(`${prefix}rl:password-check:*`), [`${prefix}rl:password-check:${String(s.user.id)}`], 'one counter per user, under the prefix')
})

t.test('Redis unreachable: the password checks fail closed (503 + Retry-After), or open with RATE_LIMIT_FAIL_OPEN=true', async (t) => {
  const dead = await freePort()
  const plain = testConfig(t)
  const s = await join(await build(t, {}, plain))
  const redisDown = { REDIS_URL: `redis://127.0.0.1:${dead}`, REDIS_KEY_PREFIX: redisPrefix(t), DATABASE_URL: `file:${plain.database.kind === 'sqlite' ? plain.database.path : ''}` }
  const closed = await build(t, redisDown)
  for (const attempt of [changePassword, changeEmail, deleteAccount]) {
    const res = await attempt(closed, s.access, PASSWORD)
    t.equal(res.statusCode, 503, attempt.name)
    t.match(res.json(), { code: 'SERVICE_UNAVAILABLE' })
    t.equal(res.headers['retry-after'], '5')
  }
  const open = await build(t, { ...redisDown, RATE_LIMIT_FAIL_OPEN: 'true', ...limited })
  for (let i = 0; i < 4; i++) t.equal((await changePassword(open, s.access)).json().code, 'INVALID_PASSWORD', `unlimited ${i + 1}`)
})
