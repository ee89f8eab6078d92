import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp } from '../../../src/app.js'
import { legacySecret } from '../../../src/keys/legacy-secret.js'
import { VERIFIED_TOKENS_CACHED } from '../../../src/keys/keyring.js'
import { bearer, build, decodeJwt, forgeJwt, join, nowSeconds, testConfig, type Session } from '../../helpers/app.js'

/*
 * @fastify/jwt finds and verifies the requests' access tokens with the
 * keyring's keys (plugins/external/jwt.ts); the keyring remembers what was
 * verified (plugins/app/authenticate.ts asks it first): a remembered token
 * skips only its signature and expiry check, never the claims and the user; a
 * refusal is never remembered; the memory is bounded; an expired token is
 * never served; a key that leaves the set empties it.
 */

interface Probe { app: FastifyInstance, session: Session, secret: string, mypage: (token: string) => Promise<number> }

async function probe (t: Test, env: NodeJS.ProcessEnv = {}): Promise<Probe> {
  const config = testConfig(t, env)
  const app = await buildApp(config)
  t.teardown(() => app.close())
  await app.ready()
  const session = await join(app)
  const mypage = async (token: string): Promise<number> => (await app.inject({ url: '/account/mypage', headers: bearer(token) })).statusCode
  return { app, session, secret: legacySecret(config), mypage }
}

t.test('a token @fastify/jwt verified for a request is remembered: its later requests use the very payload verified first', async (t) => {
  const { app, session, secret, mypage } = await probe(t)
  t.equal(await mypage(session.access), 200)
  const first = app.keys.remembered(session.access)
  t.match(first, { token_type: 'access', sub: session.user.id }, 'remembered after its first request')
  let verifications = 0
  const verify = app.jwt.verify
  app.jwt.verify = ((...args: Parameters<typeof verify>) => { verifications++; return verify(...args) }) as typeof verify
  t.equal(await mypage(session.access), 200)
  t.equal(app.keys.remembered(session.access), first, 'the same object: not decoded and checked again')
  const { header, payload } = decodeJwt(session.access)
  const other = forgeJwt(header, { ...payload, jti: 'another' }, secret)
  t.equal(app.keys.remembered(other), undefined, 'another token is not')
  t.equal(await mypage(other), 200)
  t.not(app.keys.remembered(other), first, 'it is verified on its own')
  t.equal(verifications, 0, 'requests never go through @fastify/jwt\'s decorator verify')
})

t.test(`at most ${VERIFIED_TOKENS_CACHED} tokens are remembered: a full cache keeps the tokens it has`, async (t) => {
  const { app, session, secret, mypage } = await probe(t)
  await mypage(session.access)
  const first = app.keys.remembered(session.access)
  t.ok(first !== undefined)
  const { header, payload } = decodeJwt(session.access)
  const fillers = Array.from({ length: VERIFIED_TOKENS_CACHED }, (_, i) => forgeJwt(header, { ...payload, jti: `filler-${i}` }, secret))
  for (const token of fillers) app.keys.verifyNow(token)
  t.equal(app.keys.remembered(session.access), first, 'the first is kept (its place is taken only once it has aged out: test/bounded-cache.test.ts)')
  t.ok(app.keys.remembered(fillers[VERIFIED_TOKENS_CACHED - 2] as string) !== undefined, 'and the others that fitted')
  const last = fillers[VERIFIED_TOKENS_CACHED - 1] as string
  t.equal(app.keys.remembered(last), undefined, 'the one beyond the size is not remembered')
  t.equal(await mypage(last), 200, 'but verified, as every token')
  t.equal(app.keys.remembered(last), undefined, 'still not remembered')
})

t.test('TOKEN_CACHE_SIZE sets how many are remembered; 0 remembers none', async (t) => {
  const one = await probe(t, { TOKEN_CACHE_SIZE: '1' })
  const { header, payload } = decodeJwt(one.session.access)
  const other = forgeJwt(header, { ...payload, jti: 'other' }, one.secret)
  t.equal(await one.mypage(one.session.access), 200)
  t.ok(one.app.keys.remembered(one.session.access) !== undefined, 'the one token remembered')
  t.equal(await one.mypage(other), 200)
  t.equal(one.app.keys.remembered(other), undefined, 'the next is verified, not remembered: the cache is full')
  t.ok(one.app.keys.remembered(one.session.access) !== undefined, 'the first stays')
  const none = await probe(t, { TOKEN_CACHE_SIZE: '0' })
  t.equal(await none.mypage(none.session.access), 200)
  t.equal(await none.mypage(none.session.access), 200, 'every request verified anew')
  t.equal(none.app.keys.remembered(none.session.access), undefined, 'nothing remembered')
})

t.test('refresh tokens, refusals and expiry-ignoring verifications are not remembered', async (t) => {
  const { app, session, secret } = await probe(t)
  await app.keys.verify(session.refresh)
  t.equal(app.keys.remembered(session.refresh), undefined, 'a refresh token (presented once)')
  const { header, payload } = decodeJwt(session.access)
  const forged = forgeJwt(header, { ...payload, jti: 'forged' }, 'wrong-secret-wrong-secret-wrong-secret')
  await t.rejects(app.keys.verify(forged), { code: 'TOKEN_INVALID' })
  t.equal(app.keys.remembered(forged), undefined, 'a refusal')
  const logout = forgeJwt(header, { ...payload, jti: 'logout' }, secret)
  await app.keys.verify(logout, { ignoreExpiration: true })
  t.equal(app.keys.remembered(logout), undefined, 'a verification that ignored expiry')
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
