import t from 'tap'
import { build, buildWithLogs, join, mypage, PASSWORD, post, refresh } from '../../helpers/app.js'

t.test('/metrics: off by default; with METRICS=true the counters follow what happened', async (t) => {
  const off = await build(t)
  t.equal((await off.inject({ url: '/metrics' })).statusCode, 404)

  const app = await build(t, { METRICS: 'true', RATE_LIMIT_LOGIN_MAX: '3' })
  const s = await join(app)
  const other = (await post(app, '/account/login', { email: s.email, password: PASSWORD })).json()
  await post(app, '/account/login', { email: s.email, password: 'wrong-password-1' })
  const r1 = await refresh(app, s.refresh)
  t.equal(r1.statusCode, 200)
  t.equal((await refresh(app, s.refresh)).json().refresh, r1.json().refresh, 'a replay inside the grace window')
  t.equal((await refresh(app, r1.json().refresh)).statusCode, 200, 'the chain moves on')
  t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED', 'reuse: an older token of the chain')
  for (let i = 0; i < 3; i++) await post(app, '/account/login', { email: s.email, password: 'wrong-password-1' })
  // The login's session: the reuse above ended the join's.
  await mypage(app, other.access)
  const res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body
  const value = (line: RegExp): number => Number(line.exec(text)?.[1])
  t.equal(value(/^auth_logins_total\{result="success"\} (\d+)$/m), 1)
  t.equal(value(/^auth_logins_total\{result="failure"\} (\d+)$/m), 2, 'two refused by the password, the rest by the limit')
  t.equal(value(/^auth_token_refreshes_total (\d+)$/m), 3, 'two rotations and one grace replay')
  t.equal(value(/^auth_refresh_reuse_detections_total (\d+)$/m), 1)
  t.equal(value(/^auth_refresh_grace_replays_total (\d+)$/m), 1)
  t.ok(value(/^auth_rate_limited_total\{route="\/account\/login"\} (\d+)$/m) >= 1)
  t.match(text, /^auth_argon2_queue_length 0$/m)
  t.match(text, /^http_request_duration_seconds_count\{method="GET",route="\/account\/mypage",status_code="200"\} 1$/m)
  t.match(text, /^nodejs_eventloop_lag_seconds /m)
  t.match(text, /^process_cpu_user_seconds_total /m)
  t.notMatch(text, new RegExp(s.access.slice(-20)), 'no token in any label')
})

t.test('METRICS_PORT: /metrics on its own listener only', async (t) => {
  const { app, logs } = await buildWithLogs(t, { METRICS: 'true', METRICS_PORT: '0', LOG_LEVEL: 'info' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404, 'not on the public port')
  const line = logs.map((l) => JSON.parse(l) as { msg?: string, port?: number }).find((l) => l.msg === 'metrics listening')
  t.ok(line?.port)
  const res = await fetch(`http://127.0.0.1:${String(line?.port)}/metrics`)
  t.equal(res.status, 200)
  t.match(await res.text(), /auth_logins_total/)
  t.equal((await fetch(`http://127.0.0.1:${String(line?.port)}/other`)).status, 404)
})

t.test('/metrics: the mail counters and every limited route\'s auth_rate_limited_total are there at 0 from the start, then count', async (t) => {
  const value = (text: string, line: RegExp): number => Number(line.exec(text)?.[1])
  const app = await build(t, { METRICS: 'true' })
  const fresh = (await app.inject({ url: '/metrics' })).body
  t.equal(value(fresh, /^auth_mail_sent_total (\d+)$/m), 0)
  t.equal(value(fresh, /^auth_mail_failed_total (\d+)$/m), 0)
  // The per-address limits, and the per-user limit of the current password's
  // checks (password change, email change, account deletion at /account/mypage).
  for (const route of ['/account/login', '/account/join', '/account/password/reset', '/account/email/resend', '/account/email/change', '/account/password/change', '/account/mypage', '/account/passkeys/login/options', '/account/passkeys/login/verify']) {
    t.equal(value(fresh, new RegExp(`^auth_rate_limited_total\\{route="${route}"\\} (\\d+)$`, 'm')), 0, route)
  }
  t.notMatch(fresh, /^auth_rate_limited_total\{route="\/account\/token\/refresh"\}/m, 'only routes a limit can refuse')

  const s = await join(app)
  t.equal((await post(app, '/account/password/reset', { email: s.email })).statusCode, 200)
  await app.mailer.idle()
  t.equal(value((await app.inject({ url: '/metrics' })).body, /^auth_mail_sent_total (\d+)$/m), 1, 'a mail written to the outbox')

  // Nothing listens on port 1: the mail fails at once and is given up without retries.
  const failing = await build(t, { METRICS: 'true', SMTP_URL: 'smtp://127.0.0.1:1', SMTP_RETRIES: '0' })
  const u = await join(failing)
  t.equal((await post(failing, '/account/password/reset', { email: u.email })).statusCode, 200)
  await failing.mailer.idle()
  const text = (await failing.inject({ url: '/metrics' })).body
  t.equal(value(text, /^auth_mail_failed_total (\d+)$/m), 1)
  t.equal(value(text, /^auth_mail_sent_total (\d+)$/m), 0)
})
