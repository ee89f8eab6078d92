import t from 'tap'
import { bearer, build, decodeJwt, forgeJwt, join, nowSeconds, post, refresh, testConfig } from '../helpers/app.js'
import { legacySecret } from '../../src/keys/legacy-secret.js'

const mypage = async (app: Parameters<typeof post>[0], access: string) => await app.inject({ url: '/account/mypage', headers: bearer(access) })

t.test('claims are exactly those of the contract, HS256, lifetimes from config', async (t) => {
  const app = await build(t, { ACCESS_TOKEN_LIFETIME: '7m', REFRESH_TOKEN_LIFETIME: '2d' })
  const s = await join(app)
  const access = decodeJwt(s.access)
  const refreshT = decodeJwt(s.refresh)
  t.same(access.header, { alg: 'HS256', typ: 'at+jwt', kid: app.keys.signingKid }, 'access tokens: typ at+jwt (RFC 9068)')
  t.match(refreshT.header, { alg: 'HS256', typ: 'refresh+jwt', kid: /^rt-[\w-]{22}$/ }, 'refresh tokens: another typ, and the service\'s own key')
  t.not(refreshT.header.kid, app.keys.signingKid)
  t.match(access.header.kid, /^hs-[\w-]{22}$/, 'HS256 tokens carry a kid too')
  t.same(Object.keys(access.payload).sort(), ['email', 'exp', 'iat', 'jti', 'sid', 'sub', 'token_type', 'user_id'])
  t.same(Object.keys(refreshT.payload).sort(), ['exp', 'iat', 'jti', 'sid', 'sub', 'token_type', 'user_id'])
  t.equal(access.payload.sid, refreshT.payload.sid, 'both name the session')
  t.match(access.payload, { token_type: 'access', sub: s.user.id, user_id: s.user.id, email: s.email })
  t.match(refreshT.payload, { token_type: 'refresh', sub: s.user.id, user_id: s.user.id })
  t.equal(Number(access.payload.exp) - Number(access.payload.iat), 7 * 60)
  t.equal(Number(refreshT.payload.exp) - Number(refreshT.payload.iat), 2 * 86400)
  t.ok(Math.abs(Number(access.payload.iat) - nowSeconds()) <= 2)
  t.not(access.payload.jti, refreshT.payload.jti)
  const again = await post(app, '/account/login', { email: s.email, password: 'correct-Horse-battery-9' })
  t.not(decodeJwt(again.json().access).payload.jti, access.payload.jti, 'jti is unique')
})

t.test('an access token is accepted at mypage and by verify', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const res = await mypage(app, s.access)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: `반갑습니다, ${s.email}님!`, user: s.user })
  const v = await post(app, '/account/token/verify', { token: s.access })
  t.equal(v.statusCode, 200)
  t.same(v.json(), {})
})

t.test('types are never interchangeable', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const asAccess = await mypage(app, s.refresh)
  t.equal(asAccess.statusCode, 401)
  t.equal(asAccess.json().code, 'TOKEN_INVALID')
  const asRefresh = await refresh(app, s.access)
  t.equal(asRefresh.statusCode, 401)
  t.equal(asRefresh.json().code, 'TOKEN_INVALID')
  const logout = await post(app, '/account/logout', { refresh: s.access })
  t.equal(logout.statusCode, 401, 'logout will not take an access token as a refresh token')
})

t.test('TOKEN_MISSING without any token; another scheme is not a token', async (t) => {
  const app = await build(t)
  for (const headers of [{}, { authorization: '' }, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Token abc' }, { authorization: 'Bearerabc' }]) {
    const res = await app.inject({ url: '/account/mypage', headers })
    t.equal(res.statusCode, 401)
    t.match(res.json(), { statusCode: 401, error: 'Unauthorized', code: 'TOKEN_MISSING' }, JSON.stringify(headers))
    t.equal(res.headers['www-authenticate'], 'Bearer')
  }
  const r = await post(app, '/account/token/refresh', {})
  t.equal(r.json().code, 'TOKEN_MISSING')
})

t.test('another scheme falls back to the access_token cookie', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const res = await app.inject({ url: '/account/mypage', headers: { authorization: 'Basic dXNlcjpwYXNz' }, cookies: { access_token: s.access } })
  t.equal(res.statusCode, 200)
})

t.test('TOKEN_INVALID for a Bearer header without exactly one credential, whatever the cookie', async (t) => {
  const app = await build(t)
  const s = await join(app)
  for (const authorization of ['Bearer', 'Bearer ', 'bearer   ', 'Bearer a b c', `Bearer ${s.access} ${s.access}`, `BEARER ${s.access} x`]) {
    for (const cookies of [{}, { access_token: s.access }] as Array<Record<string, string>>) {
      const res = await app.inject({ url: '/account/mypage', headers: { authorization }, cookies })
      t.equal(res.statusCode, 401, JSON.stringify(authorization))
      t.match(res.json(), { statusCode: 401, error: 'Unauthorized', code: 'TOKEN_INVALID', message: 'Authorization header must be "Bearer" followed by exactly one token.' })
      t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token", error_description="TOKEN_INVALID"')
    }
  }
  const all = await post(app, '/account/logout', { all: true }, { authorization: 'Bearer a b' })
  t.equal(all.json().code, 'TOKEN_INVALID', 'logout everywhere too')
  t.equal((await app.inject({ url: '/account/mypage', headers: { authorization: `bearer ${s.access}` } })).statusCode, 200, 'the scheme is case-insensitive')
})

t.test('rejected tokens: alg none, wrong secret, other algorithm, tampered, malformed, expired', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  const s = await join(app)
  const { header, payload } = decodeJwt(s.access)
  const [h, p, sig] = s.access.split('.') as [string, string, string]
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
  const cases: Array<[string, string, string]> = [
    ['alg none, no signature', `${enc({ alg: 'none', typ: 'JWT' })}.${p}.`, 'TOKEN_INVALID'],
    ['alg None, original signature', `${enc({ alg: 'None', typ: 'JWT' })}.${p}.${sig}`, 'TOKEN_INVALID'],
    ['wrong secret', forgeJwt(header, payload, 'x'.repeat(48)), 'TOKEN_INVALID'],
    ['HS512 with the right secret', forgeJwt({ alg: 'HS512', typ: 'JWT' }, payload, legacySecret(config), 'sha512'), 'TOKEN_INVALID'],
    ['tampered payload', `${h}.${enc({ ...payload, sub: 'someone-else', user_id: 'someone-else' })}.${sig}`, 'TOKEN_INVALID'],
    ['tampered signature', `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`, 'TOKEN_INVALID'],
    ['two segments', `${h}.${p}`, 'TOKEN_INVALID'],
    ['garbage', 'not-a-jwt', 'TOKEN_INVALID'],
    ['non-JSON payload', `${h}.${Buffer.from('{oops').toString('base64url')}.${sig}`, 'TOKEN_INVALID'],
    ['expired', forgeJwt(header, { ...payload, iat: nowSeconds() - 600, exp: nowSeconds() - 10 }, legacySecret(config)), 'TOKEN_EXPIRED'],
    ['no exp', forgeJwt(header, { ...payload, exp: undefined }, legacySecret(config)), 'TOKEN_INVALID'],
    ['no token_type', forgeJwt(header, { ...payload, token_type: undefined }, legacySecret(config)), 'TOKEN_INVALID'],
    ['unknown token_type', forgeJwt(header, { ...payload, token_type: 'id' }, legacySecret(config)), 'TOKEN_INVALID'],
    ['user_id differs from sub', forgeJwt(header, { ...payload, user_id: 'other' }, legacySecret(config)), 'TOKEN_INVALID'],
    ['exp not a number', forgeJwt(header, { ...payload, exp: 'tomorrow' }, legacySecret(config)), 'TOKEN_INVALID'],
    ['unknown user', forgeJwt(header, { ...payload, sub: 'ghost', user_id: 'ghost' }, legacySecret(config)), 'TOKEN_INVALID']
  ]
  for (const [what, token, code] of cases) {
    const res = await mypage(app, token)
    t.equal(res.statusCode, 401, what)
    t.equal(res.json().code, code, what)
    t.match(res.headers['www-authenticate'], /^Bearer error="invalid_token"/, what)
    const v = await post(app, '/account/token/verify', { token })
    t.equal(v.statusCode, 401, `verify: ${what}`)
    t.equal(v.json().code, code, `verify: ${what}`)
  }
  t.equal((await mypage(app, s.access)).statusCode, 200, 'the genuine token still works')
})

t.test('an expired refresh token cannot refresh', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  const s = await join(app)
  const { payload } = decodeJwt(s.refresh)
  // Signed as refresh tokens were before they had a key of their own (which still refresh).
  const expired = forgeJwt({ alg: 'HS256', typ: 'JWT', kid: app.keys.signingKid }, { ...payload, exp: nowSeconds() - 1 }, legacySecret(config))
  const res = await refresh(app, expired)
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'TOKEN_EXPIRED')
})

t.test('a token signed for a refresh that was never stored is refused', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  const s = await join(app)
  const { header, payload } = decodeJwt(s.refresh)
  const unknown = forgeJwt(header, { ...payload, jti: 'never-issued' }, legacySecret(config))
  t.equal((await refresh(app, unknown)).json().code, 'TOKEN_INVALID')
  t.equal((await post(app, '/account/token/verify', { token: unknown })).json().code, 'TOKEN_INVALID')
})

t.test('deactivated and deleted users: their unexpired tokens get TOKEN_INVALID', async (t) => {
  const app = await build(t)
  const a = await join(app)
  const b = await join(app)
  await app.store.users.setActive(String(a.user.id), false)
  await app.store.users.remove(String(b.user.id))
  for (const s of [a, b]) {
    for (const res of [await mypage(app, s.access), await refresh(app, s.refresh), await post(app, '/account/token/verify', { token: s.access })]) {
      t.equal(res.statusCode, 401)
      t.equal(res.json().code, 'TOKEN_INVALID')
    }
  }
  await app.store.users.setActive(String(a.user.id), true)
  t.equal((await mypage(app, a.access)).statusCode, 200, 'reactivation restores access')
})

t.test('verify: VALIDATION_ERROR without a token', async (t) => {
  const app = await build(t)
  for (const body of [{}, { token: '' }, { token: 5 }, { token: 'x', extra: 1 }]) {
    const res = await post(app, '/account/token/verify', body)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'VALIDATION_ERROR')
  }
})

t.test('a token field: 1 to 4096 characters counted as code points, no NUL, each rule named in details', async (t) => {
  const app = await build(t)
  const detail = async (body: unknown): Promise<{ status: number, message?: string }> => {
    const res = await post(app, '/account/token/verify', body)
    const details = res.json().details as Array<{ field: string, message: string }> | undefined
    return { status: res.statusCode, message: details?.find((d) => d.field === 'token')?.message }
  }
  t.same(await detail({ token: '' }), { status: 400, message: 'must NOT have fewer than 1 characters' })
  t.same(await detail({ token: 'x'.repeat(4097) }), { status: 400, message: 'must NOT have more than 4096 characters' })
  t.same(await detail({ token: 'a\u0000b' }), { status: 400, message: 'must not contain NUL (\\u0000) characters' })
  t.same(await detail({ token: `${'x'.repeat(5000)}\u0000` }), { status: 400, message: 'must not contain NUL (\\u0000) characters' }, 'a NUL is named first')
  // Within the bounds the schema lets it through; the token itself is refused.
  t.equal((await post(app, '/account/token/verify', { token: 'x'.repeat(4096) })).json().code, 'TOKEN_INVALID', '4096 characters pass the schema')
  const astral = '\u{1F600}'.repeat(96) // 96 characters, 192 UTF-16 units
  t.equal((await post(app, '/account/token/verify', { token: 'x'.repeat(4000) + astral })).json().code, 'TOKEN_INVALID', '4096 characters (4192 UTF-16 units) pass: characters are counted')
  t.same(await detail({ token: 'x'.repeat(4001) + astral }), { status: 400, message: 'must NOT have more than 4096 characters' })
  const refresh = await post(app, '/account/token/refresh', { refresh: '' })
  t.same(refresh.json().details, [{ field: 'refresh', message: 'must NOT have fewer than 1 characters' }], 'the same on refresh')
})

t.test('GET verify answers gateways with the user in headers', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const ok = await app.inject({ url: '/account/token/verify', headers: bearer(s.access) })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['x-auth-user-id'], s.user.id)
  t.equal(ok.headers['x-auth-user-email'], s.email)
  t.equal(ok.headers['cache-control'], 'no-store', 'an answer naming a user is never cached (as forward-auth)')
  const byCookie = await app.inject({ url: '/account/token/verify', cookies: { access_token: s.access } })
  t.equal(byCookie.statusCode, 200)
  const none = await app.inject({ url: '/account/token/verify' })
  t.equal(none.statusCode, 401)
  t.equal(none.json().code, 'TOKEN_MISSING')
  const wrongType = await app.inject({ url: '/account/token/verify', headers: bearer(s.refresh) })
  t.equal(wrongType.json().code, 'TOKEN_INVALID')
})
