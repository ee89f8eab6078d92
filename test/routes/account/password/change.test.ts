import t from 'tap'
import { bearer, build, join, mypage, PASSWORD, post, refresh } from '../../../helpers/app.js'

t.test('password change: revokes every refresh token, returns a working pair', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const second = (await post(app, '/account/login', { email: s.email, password: PASSWORD })).json()
  const res = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'a-Brand-new-secret-77' }, bearer(s.access))
  t.equal(res.statusCode, 200)
  const pair = res.json()
  t.same(Object.keys(pair).sort(), ['access', 'refresh'])
  t.same(res.cookies.map((c) => c.name).sort(), ['access_token', 'csrf_token', 'refresh_token'], 'fresh cookies')
  t.equal((await refresh(app, s.refresh)).json().code, 'TOKEN_REVOKED')
  t.equal((await refresh(app, second.refresh)).json().code, 'TOKEN_REVOKED')
  t.equal((await mypage(app, pair.access)).statusCode, 200)
  t.equal((await refresh(app, pair.refresh)).statusCode, 200, 'the new login refreshes')
  t.equal((await post(app, '/account/login', { email: s.email, password: PASSWORD })).json().code, 'INVALID_CREDENTIALS')
  t.equal((await post(app, '/account/login', { email: s.email, password: 'a-Brand-new-secret-77' })).statusCode, 200)
})

t.test('password change: INVALID_PASSWORD, WEAK_PASSWORD, TOKEN_MISSING, VALIDATION_ERROR', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const wrongOld = await post(app, '/account/password/change', { old_password: 'not-it-at-all-1', new_password: 'a-Brand-new-secret-77' }, bearer(s.access))
  t.equal(wrongOld.statusCode, 400)
  t.match(wrongOld.json(), { code: 'INVALID_PASSWORD', error: 'Bad Request' })
  for (const weak of ['short', '1234567890', 'iloveyou1']) {
    const res = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: weak }, bearer(s.access))
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'WEAK_PASSWORD', weak)
  }
  const similar = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: s.email.split('@')[0] }, bearer(s.access))
  t.equal(similar.json().code, 'WEAK_PASSWORD', 'too close to the email')
  const anon = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'a-Brand-new-secret-77' })
  t.equal(anon.statusCode, 401)
  t.equal(anon.json().code, 'TOKEN_MISSING')
  const bad = await post(app, '/account/password/change', { old_password: PASSWORD }, bearer(s.access))
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'VALIDATION_ERROR')
  t.equal((await refresh(app, s.refresh)).statusCode, 200, 'failed changes revoke nothing')
})
