import { randomBytes } from 'node:crypto'
import t from 'tap'
import { codeChallenge, newChecks, openState, safeNext, sealState } from '../../src/social/state.js'

/* The state cookie's sealing, PKCE's S256 challenge, and what `next` may be. */

t.test('sealed state: opens for its provider and key, until it expires', async (t) => {
  const key = randomBytes(32)
  const value = { ...newChecks(), next: '', expiresAt: 1000 }
  const sealed = sealState(key, 'google', value)
  t.same(openState(key, 'google', sealed, 999), value)
  t.equal(openState(key, 'google', sealed, 1000), undefined, 'expired')
  t.equal(openState(key, 'kakao', sealed, 999), undefined, 'another provider')
  t.equal(openState(randomBytes(32), 'google', sealed, 999), undefined, 'another key')
  t.equal(openState(key, 'google', 'garbage', 999), undefined)
})

t.test('S256: the RFC 7636 example; fresh 43-character values', async (t) => {
  t.equal(codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')
  const a = newChecks()
  t.equal(a.verifier.length, 43)
  t.not(a.state, newChecks().state)
})

t.test('next: a path of the redirect URL\'s origin only', async (t) => {
  const base = 'https://app.example.com/home'
  t.equal(safeNext(base, '/welcome?x=1#y'), 'https://app.example.com/welcome?x=1#y')
  for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example', 'evil', '', '/\n/evil', '/\u007f', 'javascript:alert(1)']) {
    t.equal(safeNext(base, bad), undefined, JSON.stringify(bad))
  }
})
