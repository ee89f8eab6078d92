import { Redis } from 'ioredis'
import t from 'tap'
import { bearer, build, buildWithLogs, join, PASSWORD, post } from '../helpers/app.js'
import { freePort } from '../../bench/lib/service.js'
import { disposableRedis, REDIS_TEST_URL, redisPrefix } from '../helpers/redis.js'

/*
 * REDIS_URL: the rate-limit counters live in Redis, shared by every instance.
 * Two apps in this process stand for two instances; "Redis down" is a
 * disposable redis-server of the test's own, or a dead port.
 */

const wrong = { password: 'not-the-password-1' }

t.test('a login limit of 4 holds across two instances sharing Redis', async (t) => {
  const env = { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix(t), RATE_LIMIT_LOGIN_MAX: '4' }
  const a = await build(t, env)
  const b = await build(t, env)
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) {
    const res = await post(i % 2 === 0 ? a : b, '/account/login', { email: 'nobody@example.com', ...wrong })
    statuses.push(res.statusCode)
    if (res.statusCode === 429) {
      t.equal(res.json().code, 'RATE_LIMITED')
      t.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After')
    }
  }
  t.same(statuses, [401, 401, 401, 401, 429], 'the fifth attempt, on either instance, is refused')
  t.equal((await post(a, '/account/login', { email: 'nobody@example.com', ...wrong })).statusCode, 429, 'and stays refused on the other')
})

t.test('the join limit per client address is shared too, and counters sit under REDIS_KEY_PREFIX', async (t) => {
  const prefix = redisPrefix(t)
  const env = { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_JOIN_MAX: '2' }
  const a = await build(t, env)
  const b = await build(t, env)
  t.equal((await post(a, '/account/join', { email: 'j1@example.com', password: PASSWORD })).statusCode, 201)
  t.equal((await post(b, '/account/join', { email: 'j2@example.com', password: PASSWORD })).statusCode, 201)
  const third = await post(a, '/account/join', { email: 'j3@example.com', password: PASSWORD })
  t.equal(third.statusCode, 429)
  const redis = new Redis(REDIS_TEST_URL)
  t.teardown(() => { redis.disconnect() })
  const keys = await redis.keys(`${prefix}*`)
  t.same(keys, [`${prefix}rl:join:127.0.0.1`], 'one counter, under the prefix')
  const ttl = await redis.pttl(keys[0]!)
  t.ok(ttl > 0 && ttl <= 60_000, `the counter expires with the window (${ttl} ms)`)
})

t.test('Redis unreachable at start: the service serves; every rate-limited route fails closed with 503 + Retry-After; /health and the logs say so', async (t) => {
  const dead = await freePort()
  const { app, logs } = await buildWithLogs(t, { REDIS_URL: `redis://127.0.0.1:${dead}`, REDIS_KEY_PREFIX: redisPrefix(t) })
  const health = await app.inject({ url: '/health' })
  t.same(health.json(), { status: 'ok', redis: 'down' })
  for (const [url, body] of [
    ['/account/login', { email: 'a@example.com', password: PASSWORD }],
    ['/account/join', { email: 'b@example.com', password: PASSWORD }],
    // The routes that mail an address (the IP limit runs before authentication).
    ['/account/password/reset', { email: 'c@example.com' }],
    ['/account/email/resend', { email: 'd@example.com' }],
    ['/account/email/change', { new_email: 'e@example.com', password: PASSWORD }]
  ] as const) {
    const res = await post(app, url, body)
    t.equal(res.statusCode, 503, `${url}: ${res.body}`)
    t.match(res.json(), { statusCode: 503, error: 'Service Unavailable', code: 'SERVICE_UNAVAILABLE' })
    t.equal(res.headers['retry-after'], '5')
    t.notMatch(res.body, /ECONNREFUSED|ioredis|at .*\.ts/, 'no internals')
  }
  t.ok(logs.some((l) => /Redis unreachable at start: rate-limited routes answer 503 \(RATE_LIMIT_FAIL_OPEN=false\) until it is back/.test(l)), 'the log says what happens')
})

t.test('RATE_LIMIT_FAIL_OPEN=true: with Redis unreachable login and join go through, unlimited', async (t) => {
  const dead = await freePort()
  const { app, logs } = await buildWithLogs(t, { REDIS_URL: `redis://127.0.0.1:${dead}`, REDIS_KEY_PREFIX: redisPrefix(t), RATE_LIMIT_FAIL_OPEN: 'true', RATE_LIMIT_LOGIN_MAX: '1' })
  const s = await join(app)
  for (let i = 0; i < 3; i++) {
    t.equal((await post(app, '/account/login', { email: s.email, password: PASSWORD })).statusCode, 200, `login ${i + 1}`)
  }
  t.ok(logs.some((l) => /Redis unreachable at start: rate-limited routes go through unlimited \(RATE_LIMIT_FAIL_OPEN=true\) until it is back/.test(l)), 'the log says what happens')
})

t.test('Redis lost mid-run and back: 503 while it is gone, everything else keeps serving, shared limits again once back', async (t) => {
  const redis = await disposableRedis(t)
  const { app, logs } = await buildWithLogs(t, { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redisPrefix(t) })
  const s = await join(app)
  t.same((await app.inject({ url: '/health' })).json(), { status: 'ok', redis: 'up' })

  await redis.stop()
  const login = await post(app, '/account/login', { email: s.email, password: PASSWORD })
  t.equal(login.statusCode, 503, login.body)
  t.equal(login.headers['retry-after'], '5')
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(s.access) })).statusCode, 200, 'authenticated requests need no Redis')
  t.equal((await post(app, '/account/token/refresh', { refresh: s.refresh })).statusCode, 200, 'neither does a refresh')
  t.same((await app.inject({ url: '/health' })).json(), { status: 'ok', redis: 'down' })
  t.ok(logs.some((l) => /"redis":"down".*Redis unreachable/.test(l)), 'the loss is logged')

  await redis.start()
  let back = 0
  for (let i = 0; i < 100 && back !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    back = (await post(app, '/account/login', { email: s.email, password: PASSWORD })).statusCode
  }
  t.equal(back, 200, 'the client reconnected on its own')
  t.same((await app.inject({ url: '/health' })).json(), { status: 'ok', redis: 'up' })
  t.ok(logs.some((l) => /"redis":"up".*Redis reachable/.test(l)), 'the recovery is logged')
})

t.test('without REDIS_URL nothing changes: /health has no redis field', async (t) => {
  const app = await build(t)
  t.same((await app.inject({ url: '/health' })).json(), { status: 'ok' })
})
