import t from 'tap'
import { build } from '../../helpers/app.js'

t.test('load shedding: an event loop lagging past PRESSURE_MAX_EVENT_LOOP_DELAY gets 503 + Retry-After (not /health)', async (t) => {
  const app = await build(t, { PRESSURE_MAX_EVENT_LOOP_DELAY: '50' })
  // Block the loop well past the threshold, then let under-pressure sample it.
  const until = Date.now() + 600
  while (Date.now() < until) { /* busy */ }
  let res = await app.inject({ url: '/ready' })
  for (let i = 0; i < 40 && res.statusCode !== 503; i++) {
    const block = Date.now() + 300
    while (Date.now() < block) { /* busy */ }
    await new Promise((resolve) => setTimeout(resolve, 50))
    res = await app.inject({ url: '/ready' })
  }
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'SERVICE_UNAVAILABLE', message: 'The service is overloaded; try again shortly.' })
  t.equal(res.headers['retry-after'], '2')
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, 'liveness is never shed')
})
