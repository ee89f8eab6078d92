import t from 'tap'
import { verifiedTokenCache } from '../../src/tokens/token-cache.js'
import { bearer, build, decodeJwt, forgeJwt, join, nowSeconds } from '../helpers/app.js'
import { legacySecret } from '../../src/keys/legacy-secret.js'

t.test('a verified payload is remembered until its exp, then forgotten', async (t) => {
  let now = 1_000_000
  const cache = verifiedTokenCache(10, () => now)
  const payload = { exp: 1_000 + 60, sub: 'u' } // exp in seconds: 1_060_000 ms
  cache.set('token-a', payload)
  t.equal(cache.get('token-a'), payload, 'the same payload comes back')
  t.equal(cache.get('token-b'), undefined, 'another text is unknown')
  now = 1_059_999
  t.equal(cache.get('token-a'), payload, 'still there just before exp')
  now = 1_060_000
  t.equal(cache.get('token-a'), undefined, 'gone at exp')
  t.equal(cache.size, 0, 'and dropped')
})

t.test('payloads without a usable exp are never kept', async (t) => {
  const cache = verifiedTokenCache(10)
  for (const payload of [{}, { exp: '9999999999' }, { exp: Infinity }, { exp: NaN }, null, 'text']) cache.set('x', payload)
  t.equal(cache.size, 0)
})

t.test('at most max entries: the oldest leaves first', async (t) => {
  const cache = verifiedTokenCache(2, () => 0)
  const p = (n: number) => ({ exp: 100, n })
  cache.set('a', p(1))
  cache.set('b', p(2))
  cache.set('a', p(3)) // an update does not evict
  t.equal(cache.size, 2)
  cache.set('c', p(4))
  t.equal(cache.size, 2)
  t.equal(cache.get('a'), undefined, 'the first inserted left')
  t.same(cache.get('b'), p(2))
  t.same(cache.get('c'), p(4))
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
  // A token that differs by one character is not the remembered one.
  const tampered = s.access.slice(0, -2) + (s.access.endsWith('AA') ? 'BB' : 'AA')
  t.equal((await mypage(tampered)).json().code, 'TOKEN_INVALID')
})

t.test('through the API: an expired token is refused even after being remembered', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const { header, payload } = decodeJwt(s.access)
  // Valid for one more second, then expired.
  const shortLived = forgeJwt(header, { ...payload, exp: nowSeconds() + 1 }, legacySecret(app.config))
  const first = await app.inject({ url: '/account/mypage', headers: bearer(shortLived) })
  t.equal(first.statusCode, 200)
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const later = await app.inject({ url: '/account/mypage', headers: bearer(shortLived) })
  t.equal(later.statusCode, 401)
  t.equal(later.json().code, 'TOKEN_EXPIRED')
})
