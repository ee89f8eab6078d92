import { createLocalJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import { cli } from '../../helpers/cli.js'
import { build, decodeJwt, join, mypage, refresh, sqlitePath, testConfig } from '../../helpers/app.js'

/*
 * GET /.well-known/jwks.json (routes/.well-known/jwks.json/; this folder has
 * no dot, since tap's glob skips dot folders), checked with an independent
 * library (jose) before and after `keys rotate` and `keys revoke`.
 */

for (const algorithm of ['EdDSA', 'ES256', 'RS256']) {
  t.test(`${algorithm}: jose verifies our tokens against the JWKS, before and after keys rotate`, async (t) => {
    const env = { JWT_ALGORITHM: algorithm, ACCESS_TOKEN_LIFETIME: '120' }
    const config = testConfig(t, env)
    const app = await build(t, env, config)
    const jwksOf = async () => {
      const res = await app.inject({ url: '/.well-known/jwks.json' })
      t.equal(res.statusCode, 200)
      t.equal(res.headers['cache-control'], 'public, max-age=60', 'max-age: half the access lifetime, shorter than any overlap')
      return res.json() as { keys: Array<Record<string, unknown>> }
    }
    const before = await join(app)
    const kid1 = decodeJwt(before.access).header.kid
    t.match(decodeJwt(before.access).header, { alg: algorithm, kid: String(kid1) })
    const set1 = await jwksOf()
    t.equal(set1.keys.length, 1)
    for (const key of set1.keys) t.notOk('d' in key || 'p' in key, 'public parts only')
    const v1 = await jwtVerify(before.access, createLocalJWKSet(set1 as never), { algorithms: [algorithm] })
    t.equal(v1.payload.sub, before.user.id)

    const env2 = { DATABASE_URL: `file:${sqlitePath(config)}`, JWT_ALGORITHM: algorithm, ACCESS_TOKEN_LIFETIME: '120' }
    const rotated = await cli(['keys', 'rotate'], env2)
    t.equal(rotated.code, 0, rotated.err)
    t.match(rotated.out, /^new signing key [\w-]+ \(/)
    t.match(rotated.out, new RegExp(`previous key ${String(kid1)} verifies until`))
    await app.keys.reload() // what the 30-second timer does
    const after = await join(app)
    const kid2 = decodeJwt(after.access).header.kid
    t.not(kid2, kid1, 'new tokens carry the new kid')
    const set2 = await jwksOf()
    t.same(set2.keys.map((k) => k.kid).sort(), [kid1, kid2].sort(), 'both keys are published during the overlap')
    const local = createLocalJWKSet(set2 as never)
    t.equal((await jwtVerify(before.access, local)).protectedHeader.kid, kid1, 'old tokens still verify')
    t.equal((await jwtVerify(after.access, local)).protectedHeader.kid, kid2, 'new ones too')
    t.equal((await mypage(app, before.access)).statusCode, 200, 'nobody is logged out')
    t.equal((await refresh(app, before.refresh)).statusCode, 200, 'a refresh token signed by the old key still rotates')
    const listed = await cli(['keys', 'list'], env2)
    t.match(listed.out, new RegExp(`${String(kid2)}\\s+${algorithm}\\s+created .* signing`))
    t.notMatch(listed.out, /PRIVATE/, 'no key material is printed')

    // A leaked key is withdrawn at once: even a token verified (and cached) before stops working.
    t.equal((await cli(['keys', 'revoke', String(kid2)], env2)).code, 1, 'the signing key cannot be revoked')
    const revoked = await cli(['keys', 'revoke', String(kid1)], env2)
    t.equal(revoked.code, 0, revoked.err)
    t.equal((await cli(['keys', 'revoke', String(kid1)], env2)).code, 1, 'an unknown kid')
    t.equal((await cli(['keys', 'revoke'], env2)).code, 2, 'no kid: usage')
    await app.keys.reload()
    const gone = await mypage(app, before.access)
    t.equal(gone.statusCode, 401, 'a token of the revoked key, verified before, is refused')
    t.equal(gone.json().code, 'TOKEN_INVALID')
    t.same((await jwksOf()).keys.map((k) => k.kid), [kid2], 'and the key left the JWKS')
    t.equal((await mypage(app, after.access)).statusCode, 200)
  })
}

t.test('HS256: empty JWKS, kid on every token, an explicit JWT_SECRET signs and cannot be rotated away', async (t) => {
  const secret = 'explicit-secret-explicit-secret-explicit'
  const config = testConfig(t, { JWT_SECRET: secret })
  const app = await build(t, {}, config)
  const s = await join(app)
  t.same((await app.inject({ url: '/.well-known/jwks.json' })).json(), { keys: [] })
  t.equal(decodeJwt(s.access).header.kid, app.keys.signingKid)
  // Exactly as before keys existed: anything holding JWT_SECRET (e.g. simplejwt's SIGNING_KEY) verifies.
  const { payload } = await jwtVerify(s.access, new TextEncoder().encode(secret), { algorithms: ['HS256'] })
  t.equal(payload.sub, s.user.id)
  const db = sqlitePath(config)
  const res = await cli(['keys', 'rotate'], { DATABASE_URL: `file:${db}`, JWT_SECRET: secret })
  t.equal(res.code, 1)
  t.match(res.err, /^error: JWT_SECRET is set, so it signs every token/)
  const generated = await cli(['keys', 'rotate'], { DATABASE_URL: `file:${db}` })
  t.equal(generated.code, 0, 'without JWT_SECRET the service manages (and rotates) HS256 secrets')
})
