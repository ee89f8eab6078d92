import t from 'tap'
import { build, join, bearer } from './helper.js'

t.test('smoke', async (t) => {
  const app = await build(t)
  const h = await app.inject({ url: '/health' })
  t.equal(h.statusCode, 200)
  t.same(h.json(), { status: 'ok' })
  const s = await join(app)
  const me = await app.inject({ url: '/account/mypage', headers: bearer(s.access) })
  t.equal(me.statusCode, 200, me.body)
})
