import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../../src/app.js'
import { legacySecret } from '../../../src/keys/legacy-secret.js'
import { VERIFIED_TOKENS_CACHED } from '../../../src/keys/keyring.js'
import { bearer, build, decodeJwt, forgeJwt, join, nowSeconds, testConfig, type Session } from '../../helpers/app.js'

/*
 * @fastify/jwt reads and verifies the requests' access tokens with the
 * keyring's keys (plugins/external/jwt.ts) and remembers what it verified
 * (fast-jwt's `cache`): a remembered token skips only its signature and
 * expiry check, never the claims and the user; a refusal is never
 * remembered; the memory is bounded; an expired token is never served.
 */

interface Probe { app: FastifyInstance, session: Session, secret: string, verified: (token: string) => Promise<unknown> }

/** The app with a route that shows what @fastify/jwt hands over for a token (the payload object itself). */
async function probe (t: Test): Promise<Probe> {
  const config = testConfig(t)
  const app = await buildApp(config)
  t.teardown(() => app.close())
  let last: unknown
  app.get('/probe', (request, reply) => {
    // No options, as plugins/app/authenticate.ts calls it.
    request.jwtVerify(null as never, (err, payload) => {
      last = payload
      void reply.code(err === null ? 200 : 401).send({})
    })
  })
  await app.ready()
  const session = await join(app)
  const verified = async (token: string): Promise<unknown> => {
    last = undefined
    const res = await app.inject({ url: '/probe', headers: bearer(token) })
    if (res.statusCode !== 200) throw new Error(`refused: ${res.statusCode}`)
    return last
  }
  return { app, session, secret: legacySecret(config), verified }
}

t.test('a verified token is remembered: its later requests get the very payload verified first', async (t) => {
  const { session, secret, verified } = await probe(t)
  const first = await verified(session.access)
  t.match(first, { token_type: 'access', sub: session.user.id })
  t.equal(await verified(session.access), first, 'the same object: not decoded and checked again')
  const { header, payload } = decodeJwt(session.access)
  const other = forgeJwt(header, { ...payload, jti: 'another' }, secret)
  t.not(await verified(other), first, 'another token is verified on its own')
})

t.test(`at most ${VERIFIED_TOKENS_CACHED} tokens per key are remembered: the least recently used leaves first`, async (t) => {
  const { session, secret, verified } = await probe(t)
  const first = await verified(session.access)
  const { header, payload } = decodeJwt(session.access)
  for (let i = 0; i < VERIFIED_TOKENS_CACHED; i++) await verified(forgeJwt(header, { ...payload, jti: `filler-${i}` }, secret))
  const again = await verified(session.access)
  t.not(again, first, 'verified again: it had been forgotten')
  t.same(again, first, 'with the same claims')
})

t.test('a refusal is not remembered: a token not yet valid is accepted once it is', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  const s = await join(app)
  const { header, payload } = decodeJwt(s.access)
  const soon = forgeJwt(header, { ...payload, nbf: nowSeconds() + 1 }, legacySecret(config))
  const early = await app.inject({ url: '/account/mypage', headers: bearer(soon) })
  t.equal(early.statusCode, 401)
  t.equal(early.json().code, 'TOKEN_INVALID')
  await new Promise((resolve) => setTimeout(resolve, 2100))
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(soon) })).statusCode, 200)
})

t.test('through the API: a remembered token is still checked for everything but its signature', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const mypage = async (token: string) => await app.inject({ url: '/account/mypage', headers: bearer(token) })
  t.equal((await mypage(s.access)).statusCode, 200)
  t.equal((await mypage(s.access)).statusCode, 200, 'a second use (remembered) still works')
  // Type is checked on every use: the (remembered) access token is no refresh token.
  const asRefresh = await app.inject({ method: 'POST', url: '/account/token/refresh', payload: { refresh: s.access } })
  t.equal(asRefresh.statusCode, 401)
  // The user is checked on every use: deactivated, the remembered token fails.
  await app.store.users.setActive(String(s.user.id), false)
  const refused = await mypage(s.access)
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().code, 'TOKEN_INVALID')
  t.equal((await app.inject({ url: '/account/forward-auth', headers: bearer(s.access) })).json().code, 'TOKEN_INVALID', 'at forward-auth too')
  // A token that differs by one character is not the remembered one.
  const tampered = s.access.slice(0, -2) + (s.access.endsWith('AA') ? 'BB' : 'AA')
  t.equal((await mypage(tampered)).json().code, 'TOKEN_INVALID')
})

t.test('through the API: an expired token is refused even after being remembered', async (t) => {
  const config = testConfig(t)
  const app = await build(t, {}, config)
  const s = await join(app)
  const { header, payload } = decodeJwt(s.access)
  // Valid for one more second, then expired.
  const shortLived = forgeJwt(header, { ...payload, exp: nowSeconds() + 1 }, legacySecret(config))
  for (const url of ['/account/mypage', '/account/forward-auth']) t.equal((await app.inject({ url, headers: bearer(shortLived) })).statusCode, 200, url)
  t.equal((await app.inject({ method: 'POST', url: '/account/token/verify', payload: { token: shortLived } })).statusCode, 200, 'verify (the keyring\'s own cache)')
  await new Promise((resolve) => setTimeout(resolve, 2100))
  for (const url of ['/account/mypage', '/account/forward-auth']) {
    const later = await app.inject({ url, headers: bearer(shortLived) })
    t.equal(later.statusCode, 401, url)
    t.equal(later.json().code, 'TOKEN_EXPIRED', url)
  }
  t.equal((await app.inject({ method: 'POST', url: '/account/token/verify', payload: { token: shortLived } })).json().code, 'TOKEN_EXPIRED', 'verify')
})
