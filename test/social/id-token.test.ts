import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import t from 'tap'
import { IdTokenError, idTokenVerifier } from '../../src/social/id-token.js'

/*
 * The ID-token verifier of POST /account/social/<name>/token (node:crypto):
 * what it accepts (RS256, ES256 with the JWS signature form) and what it must
 * refuse — `alg: none`, an HMAC token keyed with the public key, several
 * audiences without our `azp`, a future `iat` — and how often it asks the
 * provider for its keys.
 */

const ISSUER = 'https://idp.example.com'
const NOW = Date.UTC(2026, 0, 1)
const seconds = NOW / 1000
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

function jwt (header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject | null, options: { dsaEncoding?: 'ieee-p1363' } = {}): string {
  const input = `${b64(header)}.${b64({ iss: ISSUER, aud: 'web', sub: 's1', iat: seconds, exp: seconds + 300, ...claims })}`
  const signature = key === null ? Buffer.alloc(0) : sign('sha256', Buffer.from(input), { key, ...options })
  return `${input}.${signature.toString('base64url')}`
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const jwks = {
  keys: [
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'r1', alg: 'RS256', use: 'sig' },
    { ...ec.publicKey.export({ format: 'jwk' }), kid: 'e1', alg: 'ES256', use: 'sig' }
  ]
}

function verifier (fetches: { n: number }, nowMs = () => NOW) {
  return idTokenVerifier({ issuer: ISSUER, audiences: ['web', 'ios'], nowMs, fetchJwks: async () => { fetches.n++; return jwks } })
}

t.test('RS256 and ES256 (P-1363 signatures) verify; the claims come back', async (t) => {
  const verify = verifier({ n: 0 })
  t.match(await verify(jwt({ alg: 'RS256', kid: 'r1' }, { email: 'a@b.c' }, rsa.privateKey)), { sub: 's1', email: 'a@b.c' })
  t.match(await verify(jwt({ alg: 'ES256', kid: 'e1' }, {}, ec.privateKey, { dsaEncoding: 'ieee-p1363' })), { sub: 's1' })
  t.match(await verify(jwt({ alg: 'RS256', kid: 'r1' }, { aud: ['ios', 'web'], azp: 'ios' }, rsa.privateKey)), { azp: 'ios' }, 'several audiences with our azp')
})

t.test('refused: alg none, HMAC keyed with the public key, a key of another algorithm, azp missing, iat in the future', async (t) => {
  const verify = verifier({ n: 0 })
  await t.rejects(verify(jwt({ alg: 'none', kid: 'r1' }, {}, null)), IdTokenError)
  const input = `${b64({ alg: 'HS256', kid: 'r1' })}.${b64({ iss: ISSUER, aud: 'web', sub: 's1', exp: seconds + 300 })}`
  const hmac = createHmac('sha256', rsa.publicKey.export({ type: 'spki', format: 'pem' })).update(input).digest('base64url')
  await t.rejects(verify(`${input}.${hmac}`), IdTokenError, 'HS256 with the public key as secret')
  await t.rejects(verify(jwt({ alg: 'RS256', kid: 'e1' }, {}, rsa.privateKey)), { message: /not for that algorithm/ })
  await t.rejects(verify(jwt({ alg: 'RS256', kid: 'r1' }, { aud: ['web', 'other'] }, rsa.privateKey)), { message: /azp/ })
  await t.rejects(verify(jwt({ alg: 'RS256', kid: 'r1' }, { iat: seconds + 3600 }, rsa.privateKey)), { message: /future/ })
  await t.rejects(verify(jwt({ alg: 'RS256', kid: 'r1' }, { sub: '' }, rsa.privateKey)), { message: /subject/ })
  await t.rejects(verify('not.a.jwt'), IdTokenError)
})

t.test('an unknown kid fetches the keys again at most once a minute', async (t) => {
  const fetches = { n: 0 }
  let now = NOW
  const verify = verifier(fetches, () => now)
  await verify(jwt({ alg: 'RS256', kid: 'r1' }, {}, rsa.privateKey))
  t.equal(fetches.n, 1)
  await t.rejects(verify(jwt({ alg: 'RS256', kid: 'rotated' }, {}, rsa.privateKey)), { message: /no key/ })
  await t.rejects(verify(jwt({ alg: 'RS256', kid: 'rotated' }, {}, rsa.privateKey)), { message: /no key/ })
  t.equal(fetches.n, 1, 'not again within the minute')
  now += 61_000
  await t.rejects(verify(jwt({ alg: 'RS256', kid: 'rotated' }, { iat: now / 1000, exp: now / 1000 + 300 }, rsa.privateKey)), { message: /no key/ })
  t.equal(fetches.n, 2, 'once more after it')
})
