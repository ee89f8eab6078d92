import t from 'tap'
import { build } from '../helpers/app.js'

t.test('/ready: 200 while the database answers, 503 with the reason and Retry-After when not', async (t) => {
  const app = await build(t)
  const ok = await app.inject({ url: '/ready' })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { status: 'ready' })
  app.store.ping = async () => { throw Object.assign(new Error('gone'), { code: 'SQLITE_IOERR' }) }
  const down = await app.inject({ url: '/ready' })
  t.equal(down.statusCode, 503)
  t.same(down.json(), { statusCode: 503, error: 'Service Unavailable', code: 'NOT_READY', message: 'Not ready: the database does not answer (SQLITE_IOERR)' })
  t.equal(down.headers['retry-after'], '5')
  t.equal((await app.inject({ url: '/health' })).statusCode, 200, '/health stays the liveness check')
})
