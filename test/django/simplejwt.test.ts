import t, { type Test } from 'tap'
import { importDjangoUsers, readDjangoSqlite } from '../../src/django/import.js'
import { legacyTokenKey } from '../../src/django/simplejwt.js'
import { DJANGO_DB, django } from '../helpers/django-fixtures.js'
import { loadConfig } from '../../src/config.js'
import { bearer, build, decodeJwt, forgeJwt, NEW_PASSWORD, nowSeconds, refresh } from '../helpers/app.js'

/*
 * SIMPLEJWT_COMPAT: refresh tokens minted by djangorestframework-simplejwt
 * (test/fixtures/django/tokens.json) exchanged once for this service's pair.
 */

const compat = { SIMPLEJWT_COMPAT: 'true', JWT_SECRET: django.signing_key }

async function imported (t: Test, env: NodeJS.ProcessEnv = compat) {
  const app = await build(t, env)
  await importDjangoUsers(app.store, await readDjangoSqlite(DJANGO_DB, 'accounts_user'))
  return app
}

t.test('a simplejwt refresh token is exchanged once for a pair of this service', async (t) => {
  const app = await imported(t)
  const res = await refresh(app, django.refresh.alice)
  t.equal(res.statusCode, 200, res.body)
  const pair = res.json()
  const alice = await app.store.users.byLegacyId(String(django.users.alice.id))
  t.equal(decodeJwt(pair.access).payload.sub, alice?.id, 'for the imported user')
  t.equal(decodeJwt(pair.refresh).payload.token_type, 'refresh')
  t.equal((await app.inject({ method: 'GET', url: '/account/mypage', headers: { authorization: `Bearer ${pair.access}` } })).json().user.email, 'alice@example.test')
  const sessions = (await app.inject({ url: '/account/sessions', headers: { authorization: `Bearer ${pair.access}` } })).json().sessions
  t.match(sessions, [{ id: decodeJwt(pair.access).payload.sid, method: 'django', current: true }], 'a session of its own, method django')
  const rotated = await refresh(app, pair.refresh)
  t.equal(rotated.statusCode, 200, 'the new refresh token rotates as usual')

  const second = await refresh(app, django.refresh.alice)
  t.equal(second.statusCode, 401)
  t.equal(second.json().code, 'TOKEN_REVOKED', 'a second presentation is refused')
  t.equal((await refresh(app, rotated.json().refresh)).json().code, 'TOKEN_REVOKED', '…and ends the login the first one started')
})

t.test('refused: access tokens, expired, unknown or inactive users, another key, a forged alg', async (t) => {
  const app = await imported(t)
  const cases: Array<[string, string, string]> = [
    ['an access token', django.access.alice, 'TOKEN_INVALID'],
    ['an expired token', django.refresh.expired, 'TOKEN_EXPIRED'],
    ['a user never imported', django.refresh.unknown_user, 'TOKEN_INVALID'],
    ['an inactive user', django.refresh.erin_inactive, 'TOKEN_INVALID'],
    ['another deployment\'s key', django.refresh.other_key, 'TOKEN_INVALID'],
    ['a token blacklisted (logged out) in Django', django.refresh.blacklisted, 'TOKEN_REVOKED']
  ]
  const payload = decodeJwt(django.refresh.carol).payload
  cases.push(['alg none', `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${django.refresh.carol.split('.')[1] ?? ''}.`, 'TOKEN_INVALID'])
  cases.push(['HS512 with the right key', forgeJwt({ alg: 'HS512', typ: 'JWT' }, payload, django.signing_key, 'sha512'), 'TOKEN_INVALID'])
  cases.push(['an iat in the future', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...payload, iat: nowSeconds() + 3600 }, django.signing_key), 'TOKEN_INVALID'])
  cases.push(['a crit header', forgeJwt({ alg: 'HS256', typ: 'JWT', crit: ['x'] }, payload, django.signing_key), 'TOKEN_INVALID'])
  cases.push(['a crit header of a falsy value', forgeJwt({ alg: 'HS256', typ: 'JWT', crit: null }, payload, django.signing_key), 'TOKEN_INVALID'])
  for (const header of ['jku', 'jwk', 'x5u', 'x5c']) {
    cases.push([`a ${header} header, however well signed`, forgeJwt({ alg: 'HS256', typ: 'JWT', [header]: header === 'jwk' ? { kty: 'oct', k: 'AAAA' } : 'https://attacker.example/key' }, payload, django.signing_key), 'TOKEN_INVALID'])
  }
  // The type is checked before the expiry: an expired access token is not a refresh token.
  const access = decodeJwt(django.access.alice).payload
  cases.push(['an expired access token', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...access, iat: nowSeconds() - 600, exp: nowSeconds() - 300 }, django.signing_key), 'TOKEN_INVALID'])
  cases.push(['a padded signature', `${django.refresh.carol}=`, 'TOKEN_INVALID'])
  cases.push(['no jti', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...payload, jti: '' }, django.signing_key), 'TOKEN_INVALID'])
  cases.push(['exp not a number', forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...payload, exp: String(payload.exp) }, django.signing_key), 'TOKEN_INVALID'])
  for (const [what, token, code] of cases) {
    const res = await refresh(app, token)
    t.equal(res.statusCode, 401, what)
    t.equal(res.json().code, code, what)
  }
  t.equal((await refresh(app, django.refresh.carol)).statusCode, 200, 'the refusals used up nothing')
})

t.test('off by default: a simplejwt token is invalid and stays unused', async (t) => {
  const off = await imported(t, { JWT_SECRET: django.signing_key })
  const res = await refresh(off, django.refresh.bob)
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'TOKEN_INVALID')
  // Nothing was recorded: the token can still be exchanged once compat is on.
  const bob = await off.store.users.byLegacyId(String(django.users.bob.id))
  const key = legacyTokenKey(String(decodeJwt(django.refresh.bob).payload.jti))
  t.equal(await off.store.legacyTokens.exchange(key, nowSeconds() + 60, { id: 'probe', userId: bob?.id ?? '', familyId: 'f', expiresAt: nowSeconds() + 60, createdAt: nowSeconds() }, nowSeconds()), 'exchanged')
})

t.test('logout with a simplejwt token retires it; a bad one is refused as usual', async (t) => {
  const app = await imported(t)
  const out = await app.inject({ method: 'POST', url: '/account/logout', payload: { refresh: django.refresh.carol } })
  t.equal(out.statusCode, 200)
  t.equal((await refresh(app, django.refresh.carol)).json().code, 'TOKEN_REVOKED', 'no longer exchangeable')
  t.equal((await app.inject({ method: 'POST', url: '/account/logout', payload: { refresh: django.refresh.expired } })).statusCode, 200, 'an expired one: nothing to do')
  t.equal((await app.inject({ method: 'POST', url: '/account/logout', payload: { refresh: django.refresh.other_key } })).json().code, 'TOKEN_INVALID')
  t.equal((await refresh(app, django.refresh.bob)).statusCode, 200, 'other tokens unaffected')
})

t.test('with compat on, this service\'s own tokens refresh as before', async (t) => {
  const app = await imported(t)
  const login = await app.inject({ method: 'POST', url: '/account/login', payload: { email: 'dave@example.test', password: django.users.dave.password } })
  t.equal(login.statusCode, 200)
  t.equal((await refresh(app, login.json().refresh)).statusCode, 200)
})

t.test('EMAIL_VERIFICATION=mandatory: an unverified user\'s simplejwt token is EMAIL_NOT_VERIFIED, and not used up', async (t) => {
  const app = await imported(t, { ...compat, EMAIL_VERIFICATION: 'mandatory' })
  const bob = await app.store.users.byLegacyId(String(django.users.bob.id))
  t.equal(bob?.emailVerified, false)
  const refused = await refresh(app, django.refresh.bob)
  t.equal(refused.statusCode, 403)
  t.match(refused.json(), { statusCode: 403, code: 'EMAIL_NOT_VERIFIED' })
  t.equal((await refresh(app, django.refresh.alice)).statusCode, 200, 'a verified user\'s is exchanged')
  await app.store.users.setEmail(bob?.id ?? '', bob?.email ?? '', true)
  t.equal((await refresh(app, django.refresh.bob)).statusCode, 200, 'once verified, the same token is exchanged')
})

t.test('a simplejwt token issued before a password change or "log out everywhere" here is TOKEN_REVOKED', async (t) => {
  const app = await imported(t)
  const revoked = async (token: string, why: string): Promise<void> => {
    const res = await refresh(app, token)
    t.equal(res.statusCode, 401, why)
    t.equal(res.json().code, 'TOKEN_REVOKED', why)
  }
  const loginAs = async (user: { email: string | null, password: string | null }) =>
    (await app.inject({ method: 'POST', url: '/account/login', payload: { email: user.email, password: user.password } })).json()

  // Alice logs in here (her hash is re-hashed: that is no password change) and changes her password.
  const alice = await loginAs(django.users.alice)
  const changed = await app.inject({ method: 'POST', url: '/account/password/change', headers: bearer(alice.access), payload: { old_password: django.users.alice.password, new_password: NEW_PASSWORD } })
  t.equal(changed.statusCode, 200, changed.body)
  await revoked(django.refresh.alice, 'after a password change')

  // Carol logs out everywhere.
  const carol = await loginAs(django.users.carol)
  t.equal((await app.inject({ method: 'POST', url: '/account/logout', headers: bearer(carol.access), payload: { all: true } })).statusCode, 200)
  await revoked(django.refresh.carol, 'after log out everywhere')

  // Dave's password is set by an operator (users set-password).
  const dave = await app.store.users.byLegacyId(String(django.users.dave.id))
  await app.store.users.setPassword(dave?.id ?? '', dave?.passwordHash ?? '', nowSeconds())
  // (A token Django issued to Dave, as it would: the fixtures hold none.)
  const daveToken = forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...decodeJwt(django.refresh.bob).payload, user_id: django.users.dave.id, jti: 'dave-1' }, django.signing_key)
  await revoked(daveToken, 'after users set-password')

  t.equal((await refresh(app, django.refresh.bob)).statusCode, 200, 'another user\'s token is exchanged as before')
  // A token Django would issue after the change (iat later than it) is not revoked by it.
  const later = forgeJwt({ alg: 'HS256', typ: 'JWT' }, { ...decodeJwt(django.refresh.alice).payload, jti: 'issued-after', iat: nowSeconds() + 1, exp: nowSeconds() + 3600 }, django.signing_key)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await refresh(app, later)).statusCode, 200)
})

t.test('SIMPLEJWT_SIGNING_KEY verifies Django\'s tokens, whatever signs this service\'s own', async (t) => {
  const app = await imported(t, { SIMPLEJWT_COMPAT: 'true', SIMPLEJWT_SIGNING_KEY: django.signing_key, JWT_ALGORITHM: 'EdDSA' })
  const res = await refresh(app, django.refresh.alice)
  t.equal(res.statusCode, 200, 'exchanged')
  t.equal(decodeJwt(res.json().access).header.alg, 'EdDSA', "the service's tokens are signed with its own key")
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(res.json().access) })).statusCode, 200)

  // The signing key wins over JWT_SECRET: Django's key as JWT_SECRET verifies nothing then.
  const other = await imported(t, { SIMPLEJWT_COMPAT: 'true', SIMPLEJWT_SIGNING_KEY: 'another-deployment-key-of-at-least-32-bytes', JWT_SECRET: django.signing_key })
  t.equal((await refresh(other, django.refresh.bob)).json().code, 'TOKEN_INVALID')

  t.throws(() => loadConfig({ SIMPLEJWT_SIGNING_KEY: django.signing_key }), /^SIMPLEJWT_SIGNING_KEY is set but SIMPLEJWT_COMPAT is not true$/)
  t.throws(() => loadConfig({ SIMPLEJWT_COMPAT: 'true', SIMPLEJWT_SIGNING_KEY: 'short' }), /^SIMPLEJWT_SIGNING_KEY must be at least 32 bytes long$/)
})
