import { randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import { createLocalJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { issuerOf } from '../../src/tokens/issuer.js'
import { refreshTokenKey } from '../../src/tokens/tokens.js'
import { bearer, build, decodeJwt, forgeJwt, join, mypage, nowSeconds, post, refresh, sqlitePath, storeToken, testConfig } from '../helpers/app.js'

/*
 * RFC 9068 / RFC 8725 §3.11: access tokens say `typ: at+jwt` (and `iss`/`aud`
 * when configured); refresh tokens have another typ and are signed by a key of
 * the service that is never published, so that nothing a gateway holds can
 * verify them; one type is never accepted for the other. Refresh tokens of
 * before the upgrade (signed with the signing key, `typ: JWT`) keep refreshing.
 */

const SECRET = 'introspection-secret-for-token-type-tests'

async function judged (app: FastifyInstance, access: string): Promise<string[]> {
  const answers = [
    await mypage(app, access),
    await app.inject({ url: '/account/forward-auth', headers: bearer(access) }),
    await post(app, '/account/token/verify', { token: access })
  ]
  const introspect = await post(app, '/account/token/introspect', { token: access }, { authorization: `Bearer ${SECRET}` })
  return [...answers.map((r) => `${r.statusCode} ${r.statusCode === 200 ? 'OK' : String(r.json().code)}`), `active ${String(introspect.json().active)}`]
}
const ACCEPTED = ['200 OK', '200 OK', '200 OK', 'active true']
const REFUSED = ['401 TOKEN_INVALID', '401 TOKEN_INVALID', '401 TOKEN_INVALID', 'active false']

for (const algorithm of ['EdDSA', 'HS256']) {
  t.test(`${algorithm}: a refresh token never verifies with what a gateway holds; an access token does, with typ at+jwt`, async (t) => {
    const env = { JWT_ALGORITHM: algorithm, JWT_SECRET: 'a-gateway-knows-this-hs256-secret-0123456789' }
    const app = await build(t, env)
    const s = await join(app)
    t.equal(decodeJwt(s.access).header.typ, 'at+jwt')
    t.equal(decodeJwt(s.refresh).header.typ, 'refresh+jwt')
    t.equal(decodeJwt(s.refresh).header.alg, 'HS256', 'refresh tokens: HMAC with the service\'s own secret, whatever JWT_ALGORITHM is')
    if (algorithm === 'HS256') {
      const key = new TextEncoder().encode(env.JWT_SECRET)
      t.equal((await jwtVerify(s.access, key, { typ: 'at+jwt' })).payload.sub, s.user.id)
      await t.rejects(jwtVerify(s.refresh, key), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' }, 'JWT_SECRET does not verify a refresh token')
    } else {
      const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string }> }
      const local = createLocalJWKSet(jwks as never)
      t.equal((await jwtVerify(s.access, local, { typ: 'at+jwt' })).payload.sub, s.user.id)
      t.notOk(jwks.keys.some((k) => k.kid === decodeJwt(s.refresh).header.kid), 'its key is not published')
      await t.rejects(jwtVerify(s.refresh, local), 'the JWKS does not verify a refresh token')
    }
    // One type never passes for the other.
    t.match((await mypage(app, s.refresh)).json(), { code: 'TOKEN_INVALID' }, 'a refresh token is not an access token')
    t.equal((await app.inject({ url: '/account/forward-auth', headers: bearer(s.refresh) })).statusCode, 401)
    t.match((await refresh(app, s.access)).json(), { code: 'TOKEN_INVALID' }, 'an access token is not a refresh token')
    t.equal((await post(app, '/account/logout', { refresh: s.access })).statusCode, 401)
    const next = await refresh(app, s.refresh)
    t.equal(next.statusCode, 200, 'the service refreshes with it')
    t.equal(decodeJwt(next.json().refresh).header.typ, 'refresh+jwt')
  })
}

t.test('the refresh-token key is one for every instance, kept in the database, sealed with JWT_KEYS_ENCRYPTION_KEY', async (t) => {
  const env = { JWT_KEYS_ENCRYPTION_KEY: 'k'.repeat(40), JWT_ALGORITHM: 'ES256' }
  const config = testConfig(t, env)
  const a = await build(t, env, config)
  const b = await build(t, env, config)
  const s = await join(a)
  t.equal((await refresh(b, s.refresh)).statusCode, 200, 'another instance refreshes what the first signed')
  const Database = (await import('better-sqlite3')).default
  const db = new Database(sqlitePath(config), { readonly: true })
  const rows = db.prepare('SELECT name, value FROM service_secrets').all() as Array<{ name: string, value: string }>
  db.close()
  t.match(rows.find((r) => r.name === 'refresh_token_key'), { value: /^sealed:v1:/ })
  t.ok(rows.every((r) => r.value.startsWith('sealed:v1:')), 'every service secret sealed')
})

t.test('a token whose header and claim disagree, or that names the refresh key in another way, is refused', async (t) => {
  const config = testConfig(t, { JWT_SECRET: 'x'.repeat(40), INTROSPECTION_SECRET: SECRET })
  const app = await build(t, {}, config)
  const s = await join(app)
  const access = decodeJwt(s.access)
  const kid = app.keys.signingKid
  // Signed with the signing key: an access claim set with the refresh typ, a refresh claim set with at+jwt.
  t.same(await judged(app, forgeJwt({ alg: 'HS256', typ: 'refresh+jwt', kid }, access.payload, 'x'.repeat(40))), REFUSED, 'refresh+jwt with a signing key')
  t.same(await judged(app, forgeJwt({ alg: 'HS256', typ: 'other', kid }, access.payload, 'x'.repeat(40))), REFUSED, 'an unknown typ')
  const refreshClaims = decodeJwt(s.refresh).payload
  t.match((await refresh(app, forgeJwt({ alg: 'HS256', typ: 'at+jwt', kid }, refreshClaims, 'x'.repeat(40)))).json(), { code: 'TOKEN_INVALID' }, 'at+jwt on a refresh claim set')
  t.same(await judged(app, forgeJwt({ alg: 'HS256', typ: 'at+jwt', kid: decodeJwt(s.refresh).header.kid }, access.payload, 'x'.repeat(40))), REFUSED, 'the refresh kid with at+jwt')
  t.same(await judged(app, s.access), ACCEPTED)
})

t.test('refresh tokens issued before the upgrade (typ JWT, signed with the signing key) keep refreshing until they expire', async (t) => {
  for (const algorithm of ['HS256', 'EdDSA']) {
    const app = await build(t, { JWT_ALGORITHM: algorithm, REFRESH_REUSE_INTERVAL: '10' })
    const s = await join(app)
    const row = (await app.store.signingKeys.list()).find((k) => k.retiredAt === null)!
    const sign = createSigner({ key: row.secret, algorithm: row.algorithm, kid: row.kid }) as (claims: object) => string
    const old = (exp: number) => {
      const iat = nowSeconds() - 60
      const jti = randomUUID()
      return { jti, iat, token: sign({ token_type: 'refresh', jti, iat, sub: s.user.id, user_id: s.user.id, exp }) }
    }
    const live = old(nowSeconds() + 3600)
    t.equal(decodeJwt(live.token).header.typ, 'JWT', 'made as before the upgrade')
    await storeToken(app.store, { id: refreshTokenKey(live.jti), userId: String(s.user.id), familyId: randomUUID(), expiresAt: nowSeconds() + 3600, createdAt: live.iat })
    const rotated = await refresh(app, live.token)
    t.equal(rotated.statusCode, 200, `${algorithm}: an old refresh token refreshes`)
    t.equal(decodeJwt(rotated.json().refresh).header.typ, 'refresh+jwt', 'into a new-style one')
    const replay = await refresh(app, live.token)
    t.equal(replay.statusCode, 200, 'the grace window holds for it')
    t.equal(replay.json().refresh, rotated.json().refresh)
    t.equal((await mypage(app, rotated.json().access)).statusCode, 200)
    const expired = old(nowSeconds() - 1)
    await storeToken(app.store, { id: refreshTokenKey(expired.jti), userId: String(s.user.id), familyId: randomUUID(), expiresAt: nowSeconds() + 3600, createdAt: expired.iat })
    t.match((await refresh(app, expired.token)).json(), { code: 'TOKEN_EXPIRED' }, 'until they expire')
    t.equal((await post(app, '/account/logout', { refresh: live.token })).statusCode, 200, 'and log out')
  }
})

t.test('JWT_ISSUER and JWT_AUDIENCE: in access tokens, and required wherever the service verifies one', async (t) => {
  const env = { JWT_SECRET: 'y'.repeat(40), JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'https://api.example.com', INTROSPECTION_SECRET: SECRET }
  const app = await build(t, env)
  const s = await join(app)
  const { header, payload } = decodeJwt(s.access)
  t.match(payload, { iss: 'https://auth.example.com', aud: 'https://api.example.com' })
  t.notOk('iss' in decodeJwt(s.refresh).payload || 'aud' in decodeJwt(s.refresh).payload, 'not in refresh tokens (for the service only)')
  t.same(await judged(app, s.access), ACCEPTED)
  t.match((await post(app, '/account/token/introspect', { token: s.access }, { authorization: `Bearer ${SECRET}` })).json(), { active: true, iss: 'https://auth.example.com', aud: 'https://api.example.com' }, 'introspection names them')
  const forged = (over: Record<string, unknown>) => forgeJwt(header, { ...payload, jti: randomUUID(), ...over }, 'y'.repeat(40))
  t.same(await judged(app, forged({ iss: 'https://evil.example.com' })), REFUSED, 'another issuer')
  t.same(await judged(app, forged({ iss: undefined })), REFUSED, 'no issuer')
  t.same(await judged(app, forged({ aud: 'https://other-api.example.com' })), REFUSED, 'another audience')
  t.same(await judged(app, forged({ aud: undefined })), REFUSED, 'no audience')
  t.same(await judged(app, forged({ aud: ['https://other.example.com', 'https://api.example.com'] })), ACCEPTED, 'a list naming it')
  const plain = await build(t, { JWT_SECRET: 'y'.repeat(40), INTROSPECTION_SECRET: SECRET })
  const p = await join(plain)
  t.notOk('iss' in decodeJwt(p.access).payload || 'aud' in decodeJwt(p.access).payload, 'unset: no iss, no aud (the claims of before)')
  const other = decodeJwt(p.access)
  t.same(await judged(plain, forgeJwt(other.header, { ...other.payload, jti: randomUUID(), iss: 'https://anyone.example.com', aud: 'anything' }, 'y'.repeat(40))), ACCEPTED, 'unset: not checked')
})

t.test('JWT_ISSUER and JWT_AUDIENCE in the configuration; issuerOf', async (t) => {
  const cfg = (env: Record<string, string>) => loadConfig({ DATABASE_URL: 'file:/tmp/x.db', ...env })
  t.match(cfg({ JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'api' }), { jwtIssuer: 'https://auth.example.com', jwtAudience: 'api' })
  const none = cfg({ JWT_ISSUER: '', PUBLIC_URL: 'https://app.example.com/login/' })
  t.equal(none.jwtIssuer, undefined)
  t.equal(none.jwtAudience, undefined)
  t.throws(() => cfg({ JWT_AUDIENCE: 'two words' }), { name: 'ConfigError', variable: 'JWT_AUDIENCE' })
  t.throws(() => cfg({ JWT_ISSUER: 'a\tb' }), { name: 'ConfigError', variable: 'JWT_ISSUER' })
  t.equal(issuerOf(none), 'https://app.example.com', 'the origin of PUBLIC_URL')
  t.equal(issuerOf(cfg({ JWT_ISSUER: 'https://issuer.example.com/realm', PUBLIC_URL: 'https://app.example.com/' })), 'https://issuer.example.com/realm')
})
