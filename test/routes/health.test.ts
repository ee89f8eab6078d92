import t from 'tap'
import { build } from '../helpers/app.js'

t.test('GET /health', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})
