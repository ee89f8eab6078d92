import t from 'tap'
import { bearer, build, deleteMypage, join, login, mypage, PASSWORD, patchMypage, refresh } from '../../helpers/app.js'

t.test('PATCH /account/mypage', async (t) => {
  const app = await build(t)
  const s = await join(app, { name: 'Ana' })

  t.test('changes only the fields given and answers the updated user', async (t) => {
    const res = await patchMypage(app, { name: 'Ana Lee', gender: 'female', date_of_birth: '1990-04-01', phone_number: '+82 10-1234-5678' }, bearer(s.access))
    t.equal(res.statusCode, 200)
    t.match(res.json().user, { id: s.user.id, email: s.email, name: 'Ana Lee', gender: 'female', date_of_birth: '1990-04-01', phone_number: '+82 10-1234-5678', email_verified: false })
    const again = await patchMypage(app, { phone_number: null }, bearer(s.access))
    t.match(again.json().user, { name: 'Ana Lee', gender: 'female', phone_number: null })
    t.same((await mypage(app, s.access)).json().user, again.json().user, 'mypage shows the stored change')
    t.equal((await patchMypage(app, {}, bearer(s.access))).statusCode, 200, 'an empty change is allowed')
  })

  t.test('read-only and unknown fields are VALIDATION_ERROR', async (t) => {
    for (const field of ['id', 'email', 'date_joined', 'last_login', 'email_verified', 'password', 'is_staff']) {
      const res = await patchMypage(app, { [field]: 'x' }, bearer(s.access))
      t.equal(res.statusCode, 400, field)
      t.equal(res.json().code, 'VALIDATION_ERROR')
      t.same(res.json().details, [{ field, message: 'is not an allowed field' }])
    }
  })

  t.test('the validation of join applies', async (t) => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'x'.repeat(151) }, 'name'],
      [{ gender: 'other' }, 'gender'],
      [{ date_of_birth: '2001-02-30' }, 'date_of_birth'],
      [{ date_of_birth: '2999-01-01' }, 'date_of_birth'],
      [{ phone_number: 'call me' }, 'phone_number'],
      [{ name: 5 }, 'name']
    ]
    for (const [body, field] of cases) {
      const res = await patchMypage(app, body, bearer(s.access))
      t.equal(res.statusCode, 400, JSON.stringify(body))
      t.equal(res.json().code, 'VALIDATION_ERROR')
      t.equal(res.json().details[0].field, field)
    }
  })

  t.test('needs an access token; by cookie it needs the CSRF header', async (t) => {
    t.equal((await app.inject({ method: 'PATCH', url: '/account/mypage', payload: { name: 'x' } })).json().code, 'TOKEN_MISSING')
    t.equal((await patchMypage(app, { name: 'x' }, bearer(s.refresh))).json().code, 'TOKEN_INVALID')
    const noCsrf = await app.inject({ method: 'PATCH', url: '/account/mypage', payload: { name: 'x' }, cookies: s.cookies })
    t.equal(noCsrf.statusCode, 403)
    t.equal(noCsrf.json().code, 'CSRF_FAILED')
    const withCsrf = await app.inject({ method: 'PATCH', url: '/account/mypage', payload: { name: 'By cookie' }, cookies: s.cookies, headers: { 'x-csrf-token': s.csrf } })
    t.equal(withCsrf.statusCode, 200)
    t.equal(withCsrf.json().user.name, 'By cookie')
  })
})

t.test('DELETE /account/mypage', async (t) => {
  const app = await build(t)
  const s = await join(app, { name: 'Old name', phone_number: '010 1234' })
  const second = await login(app, s.email)

  const wrong = await deleteMypage(app, { password: 'not-the-password' }, bearer(s.access))
  t.equal(wrong.statusCode, 400)
  t.equal(wrong.json().code, 'INVALID_PASSWORD')
  t.equal((await deleteMypage(app, undefined, bearer(s.access))).json().code, 'VALIDATION_ERROR', 'the password is required')
  t.equal((await deleteMypage(app, { password: PASSWORD, extra: 1 }, bearer(s.access))).json().code, 'VALIDATION_ERROR')
  t.equal((await deleteMypage(app, { password: PASSWORD }, {})).json().code, 'TOKEN_MISSING')
  const byCookie = await app.inject({ method: 'DELETE', url: '/account/mypage', payload: { password: PASSWORD }, cookies: s.cookies })
  t.equal(byCookie.json().code, 'CSRF_FAILED', 'a cookie-authenticated DELETE needs the CSRF header')
  t.equal((await mypage(app, s.access)).statusCode, 200, 'nothing was deleted so far')

  const res = await deleteMypage(app, { password: PASSWORD }, bearer(s.access))
  t.equal(res.statusCode, 200)
  t.same(res.json(), { detail: 'Account deleted.' })
  const cleared = res.cookies.filter((c) => ['access_token', 'refresh_token', 'csrf_token'].includes(c.name))
  t.equal(cleared.length, 3)
  t.ok(cleared.every((c) => c.maxAge === 0), 'the cookies are cleared')

  t.equal((await mypage(app, s.access)).json().code, 'TOKEN_INVALID', 'its access token stops working')
  t.equal((await refresh(app, s.refresh)).statusCode, 401, 'so do its refresh tokens')
  t.equal((await refresh(app, second.json().refresh)).statusCode, 401, 'of every session')
  t.equal((await login(app, s.email)).json().code, 'INVALID_CREDENTIALS')

  // A new account with the same email is a new user: nothing of the old one.
  const again = await join(app, { email: s.email })
  t.not(again.user.id, s.user.id)
  t.match(again.user, { email: s.email, name: '', phone_number: null })
  t.equal((await refresh(app, s.refresh)).statusCode, 401, 'the old refresh token does not open the new account')
  t.equal((await mypage(app, s.access)).statusCode, 401, 'nor does the old access token')
  t.equal((await mypage(app, again.access)).json().user.id, again.user.id)
})
