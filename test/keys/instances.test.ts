import { createLocalJWKSet, jwtVerify } from 'jose'
import t from 'tap'
import { cli } from '../helpers/cli.js'
import { bearer, build, decodeJwt, join } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'

t.test('PostgreSQL: two instances on one database share the keys; a rotation on one reaches the other', async (t) => {
  const url = await testDatabase(t)
  // JWT_SECRET given so that nothing is written to ./data (it does not sign under ES256).
  const env = { DATABASE_URL: url, JWT_ALGORITHM: 'ES256', JWT_SECRET: 'p'.repeat(40) }
  const [a, b] = await Promise.all([build(t, env), build(t, env)])
  t.equal(a.keys.signingKid, b.keys.signingKid, 'one key for both')
  const s = await join(a)
  t.equal((await b.inject({ url: '/account/forward-auth', headers: bearer(s.access) })).headers['x-auth-user-id'], s.user.id, 'b accepts what a signed')
  const rotated = await cli(['keys', 'rotate'], env)
  t.equal(rotated.code, 0, rotated.err)
  const newKid = /^new signing key ([\w-]+) \(ES256\)$/m.exec(rotated.out)?.[1]
  await a.keys.reload()
  const s2 = await join(a)
  t.equal(decodeJwt(s2.access).header.kid, newKid, 'the key keys rotate made (on PostgreSQL) signs')
  t.equal((await b.inject({ url: '/account/forward-auth', headers: bearer(s2.access) })).statusCode, 200, 'b picks up the new kid at once')
  t.equal((await b.inject({ url: '/account/forward-auth', headers: bearer(s.access) })).statusCode, 200, 'and still accepts the old one')
  const set = createLocalJWKSet((await b.inject({ url: '/.well-known/jwks.json' })).json() as never)
  t.equal((await jwtVerify(s2.access, set)).payload.sub, s2.user.id)
  t.equal((await b.inject({ url: '/ready' })).statusCode, 200)
})
