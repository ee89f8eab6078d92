import t from 'tap'
import { build, decodeJwt, join, PASSWORD, post } from '../../../helpers/app.js'

const INTROSPECTION_SECRET = 'introspection-secret-introspection-secret'

t.test('introspection: 404 unless INTROSPECTION_SECRET is set', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const res = await post(app, '/account/token/introspect', { token: s.access }, { authorization: `Bearer ${INTROSPECTION_SECRET}` })
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'NOT_FOUND')
})

t.test('introspection (RFC 7662): Basic or Bearer secret, form or JSON body, active or not', async (t) => {
  const app = await build(t, { INTROSPECTION_SECRET })
  const s = await join(app)
  const basic = { authorization: `Basic ${Buffer.from(`gateway:${INTROSPECTION_SECRET}`).toString('base64')}` }
  const bearerSecret = { authorization: `Bearer ${INTROSPECTION_SECRET}` }
  const form = async (body: string, headers: Record<string, string> = basic) =>
    await app.inject({ method: 'POST', url: '/account/token/introspect', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: body })

  const active = await form(`token=${encodeURIComponent(s.access)}&token_type_hint=access_token`)
  t.equal(active.statusCode, 200)
  t.equal(active.headers['cache-control'], 'no-store')
  const claims = decodeJwt(s.access).payload
  t.same(active.json(), { active: true, token_type: 'access', sub: s.user.id, user_id: s.user.id, exp: claims.exp, iat: claims.iat, jti: claims.jti, email: s.email })
  const json = await post(app, '/account/token/introspect', { token: s.refresh }, bearerSecret)
  t.match(json.json(), { active: true, token_type: 'refresh', sub: s.user.id })

  // A revoked refresh family, garbage, an expired token: all just inactive.
  await post(app, '/account/logout', { refresh: s.refresh })
  t.same((await post(app, '/account/token/introspect', { token: s.refresh }, bearerSecret)).json(), { active: false }, 'revoked family')
  t.same((await form('token=not-a-jwt')).json(), { active: false })
  t.same((await form('token=')).json(), { active: false })

  for (const [what, headers] of [['no credentials', {}], ['wrong Bearer', { authorization: 'Bearer nope' }],
    ['wrong Basic', { authorization: `Basic ${Buffer.from('gateway:nope').toString('base64')}` }],
    ['the secret as Basic user name', { authorization: `Basic ${Buffer.from(`${INTROSPECTION_SECRET}:`).toString('base64')}` }]] as const) {
    const res = await form(`token=${encodeURIComponent(s.access)}`, headers)
    t.equal(res.statusCode, 401, what)
    t.equal(res.json().code, 'INTROSPECTION_UNAUTHORIZED', what)
    t.equal(res.headers['www-authenticate'], 'Bearer', what)
  }
  const twice = await form('token=a&token=b')
  t.equal(twice.statusCode, 400)
  t.equal(twice.json().code, 'VALIDATION_ERROR')
  const missing = await form('token_type_hint=access_token')
  t.equal(missing.statusCode, 400)
  t.match(missing.json().details, [{ field: 'token' }])
  // The form parser exists for this route only.
  const elsewhere = await app.inject({ method: 'POST', url: '/account/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `email=${s.email}&password=${PASSWORD}` })
  t.equal(elsewhere.statusCode, 415)
})
