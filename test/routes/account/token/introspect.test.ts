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

t.test('introspection with client_secret_post: client_id and client_secret in the form or JSON body', async (t) => {
  const app = await build(t, { INTROSPECTION_SECRET })
  const s = await join(app)
  const form = async (body: string, headers: Record<string, string> = {}) =>
    await app.inject({ method: 'POST', url: '/account/token/introspect', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: body })
  const credentials = `client_id=gateway&client_secret=${encodeURIComponent(INTROSPECTION_SECRET)}`

  const active = await form(`token=${encodeURIComponent(s.access)}&${credentials}`)
  t.equal(active.statusCode, 200)
  t.equal(active.headers['cache-control'], 'no-store')
  t.match(active.json(), { active: true, token_type: 'access', sub: s.user.id, email: s.email })
  t.notOk('client_id' in active.json() || 'client_secret' in active.json(), 'the credentials are not echoed')
  const json = await post(app, '/account/token/introspect', { token: s.refresh, client_id: 'gateway', client_secret: INTROSPECTION_SECRET })
  t.equal(json.statusCode, 200)
  t.match(json.json(), { active: true, token_type: 'refresh', sub: s.user.id })
  t.equal((await post(app, '/account/token/introspect', { token: s.access, client_id: '', client_secret: INTROSPECTION_SECRET })).statusCode, 200, 'any client id, as with Basic')
  await post(app, '/account/logout', { refresh: s.refresh })
  t.same((await form(`token=${encodeURIComponent(s.refresh)}&${credentials}`)).json(), { active: false }, 'a revoked refresh token')
  t.same((await form(`token=junk&${credentials}`)).json(), { active: false }, 'junk')
  // A client id beside header credentials is no second method (some clients always send it).
  const basic = { authorization: `Basic ${Buffer.from(`gateway:${INTROSPECTION_SECRET}`).toString('base64')}` }
  t.equal((await form(`token=${encodeURIComponent(s.access)}&client_id=gateway`, basic)).statusCode, 200)
})

t.test('introspection: credentials in the header and in the body at once are 400 INTROSPECTION_MULTIPLE_CREDENTIALS', async (t) => {
  const app = await build(t, { INTROSPECTION_SECRET })
  const s = await join(app)
  const right = `Basic ${Buffer.from(`gateway:${INTROSPECTION_SECRET}`).toString('base64')}`
  for (const [what, authorization, secret] of [
    ['right Basic, right body secret', right, INTROSPECTION_SECRET],
    ['right Bearer, right body secret', `Bearer ${INTROSPECTION_SECRET}`, INTROSPECTION_SECRET],
    ['right Basic, wrong body secret', right, 'nope'],
    ['wrong Basic, right body secret', `Basic ${Buffer.from('gateway:nope').toString('base64')}`, INTROSPECTION_SECRET],
    ['an unusable header, right body secret', 'Digest whatever', INTROSPECTION_SECRET]] as const) {
    for (const [type, payload] of [
      ['form', `token=${encodeURIComponent(s.access)}&client_id=gateway&client_secret=${encodeURIComponent(secret)}`],
      ['JSON', JSON.stringify({ token: s.access, client_id: 'gateway', client_secret: secret })]] as const) {
      const res = await app.inject({
        method: 'POST',
        url: '/account/token/introspect',
        headers: { authorization, 'content-type': type === 'form' ? 'application/x-www-form-urlencoded' : 'application/json' },
        payload
      })
      t.equal(res.statusCode, 400, `${what} (${type})`)
      t.match(res.json(), { statusCode: 400, code: 'INTROSPECTION_MULTIPLE_CREDENTIALS', message: /both in the Authorization header and in the body/ }, `${what} (${type})`)
      t.notMatch(res.body, /"active"/, 'nothing of the token')
    }
  }
})

t.test('introspection: a wrong or incomplete secret in the body is the same 401 as a wrong one in the header', async (t) => {
  const app = await build(t, { INTROSPECTION_SECRET })
  const s = await join(app)
  const inHeader = await post(app, '/account/token/introspect', { token: s.access }, { authorization: `Basic ${Buffer.from('gateway:nope').toString('base64')}` })
  t.equal(inHeader.statusCode, 401)
  const expected = { status: inHeader.statusCode, body: inHeader.json(), challenge: inHeader.headers['www-authenticate'] }
  t.match(expected.body, { code: 'INTROSPECTION_UNAUTHORIZED' })
  for (const [what, body] of [
    ['wrong secret', { token: s.access, client_id: 'gateway', client_secret: 'nope' }],
    ['the secret with a prefix', { token: s.access, client_id: 'gateway', client_secret: `${INTROSPECTION_SECRET}x` }],
    ['no client_id', { token: s.access, client_secret: INTROSPECTION_SECRET }],
    ['client_secret not a string', { token: s.access, client_id: 'gateway', client_secret: 5 }],
    ['client_id not a string', { token: s.access, client_id: ['gateway'], client_secret: INTROSPECTION_SECRET }],
    ['client_id alone', { token: s.access, client_id: 'gateway' }],
    // Authentication comes before the schema: without the secret, no VALIDATION_ERROR tells what is expected.
    ['wrong secret, no token', { client_id: 'gateway', client_secret: 'nope' }],
    ['wrong secret, an unknown field', { token: s.access, client_id: 'gateway', client_secret: 'nope', scope: 'x' }]] as const) {
    const res = await post(app, '/account/token/introspect', body)
    t.same({ status: res.statusCode, body: res.json(), challenge: res.headers['www-authenticate'] }, expected, what)
  }
  const form = await app.inject({ method: 'POST', url: '/account/token/introspect', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${encodeURIComponent(s.access)}&client_id=gateway&client_secret=nope` })
  t.same({ status: form.statusCode, body: form.json(), challenge: form.headers['www-authenticate'] }, expected, 'in a form')
  // With the right secret, the schema applies as before.
  const extra = await post(app, '/account/token/introspect', { token: s.access, client_id: 'gateway', client_secret: INTROSPECTION_SECRET, scope: 'x' })
  t.equal(extra.statusCode, 400)
  t.equal(extra.json().code, 'VALIDATION_ERROR')
})
