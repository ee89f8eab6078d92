import t from 'tap'
import { bearer, build, join, PASSWORD, post, refresh } from '../../helpers/app.js'

t.test('logout revokes the login (family) and clears cookies; idempotent', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const rotated = (await refresh(app, s.refresh)).json()
  const res = await post(app, '/account/logout', { refresh: rotated.refresh })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { detail: 'Successfully logged out.' })
  const cleared = Object.fromEntries(res.cookies.map((c) => [c.name, c]))
  for (const name of ['access_token', 'refresh_token', 'csrf_token']) {
    t.equal(cleared[name]?.maxAge, 0, `${name} Max-Age=0`)
    t.equal(cleared[name]?.value, '', `${name} emptied`)
  }
  t.equal(cleared.refresh_token?.path, '/account')
  t.equal((await refresh(app, rotated.refresh)).json().code, 'TOKEN_REVOKED')
  const again = await post(app, '/account/logout', { refresh: rotated.refresh })
  t.equal(again.statusCode, 200, 'a second logout with the same token is fine')
  const nothing = await app.inject({ method: 'POST', url: '/account/logout' })
  t.equal(nothing.statusCode, 200, 'no body, no cookie: still 200')
})

t.test('logout with a malformed or forged token is refused', async (t) => {
  const app = await build(t)
  const res = await post(app, '/account/logout', { refresh: 'garbage' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'TOKEN_INVALID')
})

t.test('logout {"all":true} revokes every refresh token of the user', async (t) => {
  const app = await build(t)
  const a = await join(app)
  const b = (await post(app, '/account/login', { email: a.email, password: PASSWORD })).json()
  const other = await join(app)
  const res = await post(app, '/account/logout', { all: true }, bearer(a.access))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { detail: 'Successfully logged out.' })
  t.equal((await refresh(app, a.refresh)).json().code, 'TOKEN_REVOKED')
  t.equal((await refresh(app, b.refresh)).json().code, 'TOKEN_REVOKED')
  t.equal((await refresh(app, other.refresh)).statusCode, 200, 'other users are untouched')
})

t.test('logout {"all":true} needs a valid access token', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const missing = await post(app, '/account/logout', { all: true })
  t.equal(missing.statusCode, 401)
  t.equal(missing.json().code, 'TOKEN_MISSING')
  const wrong = await post(app, '/account/logout', { all: true }, bearer(s.refresh))
  t.equal(wrong.json().code, 'TOKEN_INVALID')
  t.equal((await refresh(app, s.refresh)).statusCode, 200, 'nothing was revoked')
})

t.test('logout: VALIDATION_ERROR for a bad body', async (t) => {
  const app = await build(t)
  for (const body of [{ all: 'yes' }, { refresh: 3 }, { everything: true }]) {
    const res = await post(app, '/account/logout', body)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'VALIDATION_ERROR')
  }
})
