import { createHmac, createSign, generateKeyPairSync, sign as cryptoSign } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { testDatabase } from '../helpers/postgres.js'
import { bearer, build, decodeJwt, join, nowSeconds, post, testConfig } from '../helpers/app.js'
import { legacySecret } from '../../src/keys/legacy-secret.js'

/*
 * The JWT attack catalogue (RFC 8725 "JWT Best Current Practices", OWASP JWT
 * cheat sheet), each attack against every place a token is read. tokens.test.ts
 * has the basic rejections (one alg:none, wrong secret, HS512, tampering,
 * expiry, missing claims); this file is the exhaustive list.
 */

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64url')
const enc = (v: unknown): string => b64(JSON.stringify(v))

/** A token from raw header and payload JSON text (so duplicated keys survive), HMAC-signed with `key`. */
function rawToken (headerJson: string, payloadJson: string, key: string | Buffer | null, hash = 'sha256'): string {
  const input = `${b64(headerJson)}.${b64(payloadJson)}`
  return `${input}.${key === null ? '' : createHmac(hash, key).update(input).digest('base64url')}`
}
const token = (header: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer | null, hash?: string): string =>
  rawToken(JSON.stringify(header), JSON.stringify(payload), key, hash)

interface Ctx { app: FastifyInstance, secret: string, access: Record<string, unknown>, refresh: Record<string, unknown>, accessToken: string, refreshToken: string }

/** The service on SQLite, or on a fresh PostgreSQL database with TEST_STORE=postgres (test/integration/postgres-suites.test.ts). */
async function setup (t: Parameters<typeof build>[0]): Promise<Ctx> {
  const config = process.env.TEST_STORE === 'postgres'
    ? testConfig(t, { DATABASE_URL: await testDatabase(t), JWT_SECRET: 'jwt-attacks-postgres-secret-0123456789' })
    : testConfig(t)
  const app = await build(t, {}, config)
  const s = await join(app)
  return { app, secret: legacySecret(config), access: decodeJwt(s.access).payload, refresh: decodeJwt(s.refresh).payload, accessToken: s.access, refreshToken: s.refresh }
}

/** Status and code of a token at every door it may knock on. */
async function judge (app: FastifyInstance, jwt: string, kind: 'access' | 'refresh'): Promise<string[]> {
  const answers = kind === 'access'
    ? [await app.inject({ url: '/account/mypage', headers: bearer(jwt) }),
        await app.inject({ url: '/account/mypage', cookies: { access_token: jwt } }),
        await post(app, '/account/token/verify', { token: jwt })]
    : [await post(app, '/account/token/refresh', { refresh: jwt }),
        await post(app, '/account/token/verify', { token: jwt })]
  return answers.map((r) => `${r.statusCode} ${r.statusCode === 200 ? 'OK' : String(r.json().code)}`)
}

async function assertRefused (t: Parameters<typeof build>[0], app: FastifyInstance, jwt: string, kind: 'access' | 'refresh', what: string, code = 'TOKEN_INVALID'): Promise<void> {
  const answers = await judge(app, jwt, kind)
  t.same(answers, answers.map(() => `401 ${code}`), what)
}

async function assertAccepted (t: Parameters<typeof build>[0], app: FastifyInstance, jwt: string, kind: 'access' | 'refresh', what: string): Promise<void> {
  // Only the access doors: refreshing would rotate (and so use up) the token.
  const answers = kind === 'access' ? await judge(app, jwt, kind) : [await post(app, '/account/token/verify', { token: jwt })].map((r) => `${r.statusCode}`)
  t.ok(answers.every((a) => a.startsWith('200')), `${what}: ${answers.join(', ')}`)
}

/** Every upper/lower-case spelling of a word: none, nonE, … NONE. */
function caseSpellings (word: string): string[] {
  const out: string[] = []
  for (let mask = 0; mask < 1 << word.length; mask++) {
    out.push([...word].map((c, i) => (mask >> i) & 1 ? c.toUpperCase() : c.toLowerCase()).join(''))
  }
  return out
}

t.test('alg none in every case spelling, with any signature, is refused', async (t) => {
  const { app, secret, access, refresh, accessToken } = await setup(t)
  const genuineSig = accessToken.split('.')[2] ?? ''
  for (const alg of caseSpellings('none')) {
    for (const [kind, payload] of [['access', access], ['refresh', refresh]] as const) {
      const unsigned = token({ alg, typ: 'JWT' }, payload, null)
      await assertRefused(t, app, unsigned, kind, `alg ${alg}, ${kind}, empty signature`)
      await assertRefused(t, app, unsigned.slice(0, -1), kind, `alg ${alg}, ${kind}, no trailing dot`)
      await assertRefused(t, app, token({ alg, typ: 'JWT' }, payload, secret), kind, `alg ${alg}, ${kind}, HMAC with the real secret`)
      if (kind === 'access') await assertRefused(t, app, `${unsigned}${genuineSig}`, kind, `alg ${alg}, a genuine token's signature`)
    }
  }
  for (const alg of ['', null, ['HS256'], { name: 'HS256' }, 'HS256 ', ' HS256', 'hs256', 'Hs256', 'HS-256', 'HMAC256']) {
    await assertRefused(t, app, token({ alg, typ: 'JWT' }, access, secret), 'access', `alg ${JSON.stringify(alg)}`)
  }
  await assertRefused(t, app, token({ typ: 'JWT' }, access, secret), 'access', 'no alg at all')
})

t.test('algorithm confusion: asymmetric algorithms, and the public key used as an HMAC secret, are refused', async (t) => {
  // The service signs with HS256 only and has no asymmetric keys; a token that
  // names RS/PS/ES/EdDSA is refused whatever signs it, in particular the
  // classic "public key PEM as HMAC secret".
  const { app, secret, access, refresh } = await setup(t)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ed = generateKeyPairSync('ed25519')
  const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' })
  const publicPkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' })
  for (const [kind, payload] of [['access', access], ['refresh', refresh]] as const) {
    for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']) {
      for (const [keyName, key] of [['public key PEM', publicPem], ['PKCS#1 public key', publicPkcs1], ['the JWT secret', secret]] as const) {
        await assertRefused(t, app, token({ alg, typ: 'JWT' }, payload, key), kind, `${alg} HMAC-signed with ${keyName} (${kind})`)
      }
    }
    await assertRefused(t, app, token({ alg: 'HS256', typ: 'JWT' }, payload, publicPem), kind, `HS256 with the public key PEM as secret (${kind})`)
    // Genuinely asymmetric signatures from an attacker's own keys.
    const input = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(payload)}`
    const rs = createSign('RSA-SHA256').update(input).sign(rsa.privateKey).toString('base64url')
    await assertRefused(t, app, `${input}.${rs}`, kind, `RS256 signed with an attacker's RSA key (${kind})`)
    const esInput = `${enc({ alg: 'ES256', typ: 'JWT' })}.${enc(payload)}`
    const es = cryptoSign('sha256', Buffer.from(esInput), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    await assertRefused(t, app, `${esInput}.${es}`, kind, `ES256 signed with an attacker's EC key (${kind})`)
    const edInput = `${enc({ alg: 'EdDSA', typ: 'JWT' })}.${enc(payload)}`
    await assertRefused(t, app, `${edInput}.${cryptoSign(null, Buffer.from(edInput), ed.privateKey).toString('base64url')}`, kind, `EdDSA signed with an attacker's key (${kind})`)
  }
  for (const [alg, hash] of [['HS384', 'sha384'], ['HS512', 'sha512']] as const) {
    await assertRefused(t, app, token({ alg, typ: 'JWT' }, access, secret, hash), 'access', `${alg} with the real secret`)
  }
})

t.test('kid injection: kid only selects among the stored keys, never a file, query or URL', async (t) => {
  const { app, secret, access, accessToken } = await setup(t)
  const realKid = decodeJwt(accessToken).header.kid
  // eslint-disable-next-line no-template-curly-in-string -- a log4j-style lookup, sent as text
  const kids: unknown[] = ['../../../../../../../dev/null', '/dev/null', '/proc/self/environ', "' UNION SELECT 'x' --", 'x|id', '${jndi:ldap://127.0.0.1/a}',
    '', 0, null, { $ne: null }, ['a'], 'k'.repeat(2000), 'file:///etc/passwd', 'http://127.0.0.1:1/key']
  for (const kid of kids) {
    const header = { alg: 'HS256', typ: 'JWT', kid }
    // Keys an attacker hopes kid would select: empty (/dev/null), zero bytes, guessable text.
    for (const key of ['', '\0', 'x', 'null', 'secret', "' UNION SELECT 'x' --"]) {
      await assertRefused(t, app, token(header, access, key), 'access', `kid ${JSON.stringify(kid).slice(0, 40)} signed with ${JSON.stringify(key)}`)
    }
    // Even the real key does not help a kid that names no stored key.
    await assertRefused(t, app, token(header, access, secret), 'access', `kid ${JSON.stringify(kid).slice(0, 40)} with the real key`)
  }
  // The signing key's own kid, and no kid at all (tokens issued before kids existed), verify.
  await assertAccepted(t, app, token({ alg: 'HS256', typ: 'JWT', kid: realKid }, access, secret), 'access', 'the real kid and key')
  await assertAccepted(t, app, token({ alg: 'HS256', typ: 'JWT' }, access, secret), 'access', 'no kid, the legacy key')
  await assertRefused(t, app, token({ alg: 'HS256', typ: 'JWT', kid: realKid }, access, 'guess'), 'access', 'the real kid, a guessed key')
})

t.test('jku, x5u, jwk and x5c headers are refused, even on a token signed with the real key: no key is fetched or taken from the token', async (t) => {
  const { app, secret, access, refresh } = await setup(t)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'RS256', use: 'sig' }
  let fetched = 0
  const keyServer = createServer((req, res) => {
    fetched++
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: [jwk] }))
  })
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve))
  t.teardown(() => keyServer.close())
  const url = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}`
  const headers: Array<Record<string, unknown>> = [
    { alg: 'RS256', typ: 'JWT', kid: 'attacker', jku: `${url}/jwks.json` },
    { alg: 'RS256', typ: 'JWT', x5u: `${url}/cert.pem` },
    { alg: 'RS256', typ: 'JWT', jwk },
    { alg: 'RS256', typ: 'JWT', x5c: [rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')] }
  ]
  for (const header of headers) {
    const input = `${enc(header)}.${enc(access)}`
    const sig = createSign('RSA-SHA256').update(input).sign(rsa.privateKey).toString('base64url')
    const what = Object.keys(header).filter((k) => k !== 'alg' && k !== 'typ').join('+')
    await assertRefused(t, app, `${input}.${sig}`, 'access', `RS256 with ${what} pointing at the attacker's key`)
    // Same header, HS256 and a guessed key; then the real key (the header changes nothing).
    await assertRefused(t, app, token({ ...header, alg: 'HS256' }, access, 'attacker'), 'access', `HS256 with ${what}, attacker's key`)
    // (Without the attacker's kid, which names no stored key and is refused by itself.)
    // RFC 8725 §3.10: a header offering a key is refused, whatever signed the token.
    await assertRefused(t, app, token({ ...header, alg: 'HS256', kid: undefined }, access, secret), 'access', `HS256 with ${what}, the real key`)
    await assertRefused(t, app, token({ ...header, alg: 'HS256', kid: undefined }, refresh, secret), 'refresh', `HS256 with ${what}, the real key (refresh)`)
  }
  await assertAccepted(t, app, token({ alg: 'HS256', typ: 'JWT' }, access, secret), 'access', 'the same token without them')
  t.equal(fetched, 0, 'the key server was never contacted')
})

t.test('critical headers: a token naming any extension in crit is refused (RFC 7515 §4.1.11)', async (t) => {
  // The service understands no JWS extension, so every crit list is one it must reject.
  const { app, secret, access, refresh } = await setup(t)
  const crits: Array<Record<string, unknown>> = [
    { crit: ['exp'] }, { crit: ['x-custom'], 'x-custom': 1 }, { crit: ['b64'], b64: false }, { crit: [] },
    { crit: 'b64' }, { crit: null }, { crit: {} }, { crit: ['alg'] }
  ]
  for (const extra of crits) {
    await assertRefused(t, app, token({ alg: 'HS256', typ: 'JWT', ...extra }, access, secret), 'access', `crit ${JSON.stringify(extra)}`)
    await assertRefused(t, app, token({ alg: 'HS256', typ: 'JWT', ...extra }, refresh, secret), 'refresh', `crit ${JSON.stringify(extra)} (refresh)`)
  }
})

t.test('duplicated JSON keys: the lexically last value is the one every check uses', async (t) => {
  // RFC 7515 §5.2 / RFC 7519 §7.2 allow either rejecting duplicates or taking
  // the last one; the service parses header and claims once (JSON.parse, last
  // wins), so no two checks can disagree about a token.
  const { app, secret, access, refresh } = await setup(t)
  const payload = JSON.stringify(access)
  await assertRefused(t, app, rawToken('{"alg":"HS256","alg":"none","typ":"JWT"}', payload, null), 'access', 'alg HS256 then none, unsigned')
  await assertRefused(t, app, rawToken('{"alg":"HS256","alg":"none","typ":"JWT"}', payload, secret), 'access', 'alg HS256 then none, signed')
  await assertRefused(t, app, rawToken('{"alg":"HS256","alg":"RS256","typ":"JWT"}', payload, secret), 'access', 'alg HS256 then RS256')
  await assertAccepted(t, app, rawToken('{"alg":"none","alg":"HS256","typ":"JWT"}', payload, secret), 'access', 'alg none then HS256 (the last, HS256, is checked)')
  // An access token whose claims say refresh first and access last is an access token everywhere.
  const confused = rawToken('{"alg":"HS256","typ":"JWT"}', JSON.stringify(refresh).replace(/}$/, ',"token_type":"access"}'), secret)
  await assertAccepted(t, app, confused, 'access', 'token_type refresh then access: accepted as access')
  const res = await post(app, '/account/token/refresh', { refresh: confused })
  t.equal(res.json().code, 'TOKEN_INVALID', '…and refused as a refresh token')
  // A forged duplicate subject without the key is just a bad signature.
  const twoSubs = JSON.stringify(access).replace(/}$/, ',"sub":"someone-else","user_id":"someone-else"}')
  await assertRefused(t, app, rawToken('{"alg":"HS256","typ":"JWT"}', twoSubs, 'guess'), 'access', 'duplicated sub, forged')
  await assertRefused(t, app, rawToken('{"alg":"HS256","typ":"JWT"}', twoSubs, secret), 'access', 'duplicated sub, real key, last sub is unknown')
})

t.test('exp, nbf and iat: in the future or not numbers', async (t) => {
  const { app, secret, access, refresh } = await setup(t)
  const now = nowSeconds()
  const header = { alg: 'HS256', typ: 'JWT' }
  const cases: Array<[string, Record<string, unknown>]> = [
    ['exp a numeric string', { exp: String(now + 3600) }],
    ['exp null', { exp: null }],
    ['exp true', { exp: true }],
    ['exp an object', { exp: { $gt: 0 } }],
    ['exp an array', { exp: [now + 3600] }],
    ['nbf in the future', { nbf: now + 3600 }],
    ['nbf a string', { nbf: 'now' }],
    ['nbf null', { nbf: null }],
    ['iat in the future', { iat: now + 3600 }],
    ['iat far in the future', { iat: 32503680000 }],
    ['iat a string', { iat: String(now) }],
    ['iat null', { iat: null }],
    ['iat missing', { iat: undefined }]
  ]
  for (const [what, change] of cases) {
    await assertRefused(t, app, token(header, { ...access, ...change }, secret), 'access', what)
    await assertRefused(t, app, token(header, { ...refresh, ...change }, secret), 'refresh', `${what} (refresh)`)
  }
  // Overflowing numbers parse to Infinity: not a date either.
  for (const claim of ['exp', 'iat', 'nbf']) {
    const json = JSON.stringify({ ...access, [claim]: 0 }).replace(`"${claim}":0`, `"${claim}":1e400`)
    await assertRefused(t, app, rawToken(JSON.stringify(header), json, secret), 'access', `${claim} 1e400 (Infinity)`)
  }
  await assertRefused(t, app, token(header, { ...access, exp: -1 }, secret), 'access', 'exp negative', 'TOKEN_EXPIRED')
  await assertAccepted(t, app, token(header, { ...access, nbf: now - 10 }, secret), 'access', 'nbf in the past is fine')
  await assertAccepted(t, app, token(header, { ...access, iat: now + 5 }, secret), 'access', 'iat a few seconds ahead (another clock) is fine')
})

t.test('oversized and malformed tokens are a 401 or 400, never an error', async (t) => {
  const { app, secret, access, accessToken } = await setup(t)
  // 12 KB: under Node's 16 KiB header limit and the 16 KiB body limit.
  const huge = token({ alg: 'HS256', typ: 'JWT' }, { ...access, pad: 'x'.repeat(9000) }, 'guess')
  for (const res of [await app.inject({ url: '/account/mypage', headers: bearer(huge) }), await app.inject({ url: '/account/mypage', cookies: { access_token: huge } })]) {
    t.equal(res.statusCode, 401, '12 KB forged token in a header or cookie')
    t.equal(res.json().code, 'TOKEN_INVALID')
  }
  const hugeReal = token({ alg: 'HS256', typ: 'JWT' }, { ...access, pad: 'x'.repeat(9000) }, secret)
  // Body tokens are capped by the schema at 4 KiB.
  for (const url of ['/account/token/verify', '/account/token/refresh', '/account/logout']) {
    const res = await post(app, url, url.endsWith('verify') ? { token: hugeReal } : { refresh: hugeReal })
    t.equal(res.statusCode, 400, `${url}: oversized body token`)
    t.equal(res.json().code, 'VALIDATION_ERROR')
  }
  const [h, p, s] = accessToken.split('.') as [string, string, string]
  const shapes = ['', '.', '..', '...', `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.x.y`, `${h}..${s}`, `.${p}.${s}`, `${h}.${p}.${s}=`,
    `${h}.${p}.${s}==`, `${h}.${p}.${s.replaceAll('-', '+').replaceAll('_', '/')}`, `${h}.${p}.${s} `, ` ${h}.${p}.${s}`,
    `${h}.${p}.${s}\u0000`, `${h}%2E${p}%2E${s}`, `${h}.${p}.${s}.`, 'e30.e30.', '\u{1F600}.\u{1F600}.\u{1F600}', 'a'.repeat(15000)]
  for (const shape of shapes) {
    const res = await post(app, '/account/token/verify', { token: shape })
    t.ok(res.statusCode === 400 || res.statusCode === 401 || res.statusCode === 200, `verify ${JSON.stringify(shape.slice(0, 60))}: ${res.statusCode}`)
    t.notOk(res.statusCode >= 500, 'never 5xx')
  }
})

t.test('inside the grace window, variants of a rotated refresh token get nothing but the one successor', async (t) => {
  const { app, refreshToken } = await setup(t)
  const rotated = await post(app, '/account/token/refresh', { refresh: refreshToken })
  t.equal(rotated.statusCode, 200)
  const successor = rotated.json().refresh as string
  const [h, p, s] = refreshToken.split('.') as [string, string, string]
  const variants = [refreshToken, `${h}.${p}.${s}=`, `${h}.${p}.${s}==`, `${h}.${p}.${s.replaceAll('-', '+').replaceAll('_', '/')}`, `${h}.${p}.${s}A`, `${h}.${p}.`, `${h}.${p}`]
  for (const variant of variants) {
    const r = await post(app, '/account/token/refresh', { refresh: variant })
    if (r.statusCode === 200) t.equal(r.json().refresh, successor, 'a replay answers the same successor, never a new token')
    else t.equal(r.json().code, 'TOKEN_INVALID', `a variant is refused as invalid (${r.statusCode} ${String(r.json().code)})`)
  }
  t.equal((await post(app, '/account/token/refresh', { refresh: refreshToken })).json().refresh, successor, 'the genuine replay still answers the successor')
  t.equal((await post(app, '/account/token/verify', { token: successor })).statusCode, 200, 'which is the live token')
})

t.test('signature variants of a revoked refresh token are not a way back in', async (t) => {
  const { app, refreshToken } = await setup(t)
  t.equal((await post(app, '/account/logout', { refresh: refreshToken })).statusCode, 200)
  const [h, p, s] = refreshToken.split('.') as [string, string, string]
  for (const variant of [refreshToken, `${h}.${p}.${s}=`, `${h}.${p}.${s}==`, `${h}.${p}.${s.replaceAll('-', '+').replaceAll('_', '/')}`, `${h}.${p}.${s}A`]) {
    const r = await post(app, '/account/token/refresh', { refresh: variant })
    t.equal(r.statusCode, 401, `refresh with ${variant === refreshToken ? 'the token' : 'a variant'}`)
    t.ok(['TOKEN_REVOKED', 'TOKEN_INVALID'].includes(r.json().code), r.json().code)
  }
})

t.test("a deleted user's tokens never reach a new account registered with the same email", async (t) => {
  const { app } = await setup(t)
  const old = await join(app)
  await app.store.users.remove(String(old.user.id))
  const fresh = await join(app, { email: old.email })
  t.not(fresh.user.id, old.user.id, 'the new account has a new id')
  await assertRefused(t, app, old.access, 'access', "the old account's access token")
  await assertRefused(t, app, old.refresh, 'refresh', "the old account's refresh token")
  for (const [url, body] of [['/account/logout', { all: true }], ['/account/password/change', { old_password: 'correct-Horse-battery-9', new_password: 'another-Horse-battery-9' }]] as const) {
    const res = await post(app, url, body, bearer(old.access))
    t.equal(res.statusCode, 401, url)
    t.equal(res.json().code, 'TOKEN_INVALID', url)
  }
  t.equal((await post(app, '/account/logout', { refresh: old.refresh })).statusCode, 200, 'logout with the old token is a no-op')
  t.equal((await post(app, '/account/token/refresh', { refresh: fresh.refresh })).statusCode, 200, "the new account's session is untouched")
})

t.test('asymmetric keys: a token must use its key\'s algorithm; the public key as an HMAC secret, none, or another curve are refused', async (t) => {
  for (const algorithm of ['EdDSA', 'ES256', 'RS256']) {
    const config = testConfig(t, { JWT_ALGORITHM: algorithm })
    const app = await build(t, {}, config)
    const s = await join(app)
    const { header, payload } = decodeJwt(s.access)
    const kid = String(header.kid)
    const jwk = ((await app.inject({ url: '/.well-known/jwks.json' })).json() as { keys: Array<Record<string, unknown>> }).keys[0] ?? {}
    const { createPublicKey } = await import('node:crypto')
    const publicPem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' })
    await assertAccepted(t, app, s.access, 'access', `${algorithm}: the genuine token`)
    // Classic confusion: HS256 keyed with the published public key, under the real kid.
    for (const key of [publicPem, JSON.stringify(jwk), String(jwk.x ?? jwk.n), legacySecret(config)]) {
      await assertRefused(t, app, token({ alg: 'HS256', typ: 'JWT', kid }, payload, key), 'access', `${algorithm} kid, HS256 with ${key.slice(0, 20)}…`)
    }
    await assertRefused(t, app, token({ alg: 'none', typ: 'JWT', kid }, payload, null), 'access', `${algorithm} kid, alg none`)
    // The legacy HS256 secret without kid: refused too once an asymmetric key signs from the start (no HS256 key was ever stored).
    await assertRefused(t, app, token({ alg: 'HS256', typ: 'JWT' }, payload, legacySecret(config)), 'access', `${algorithm}: kid-less HS256 with the data-dir secret`)
    // Another algorithm's genuine signature, under this kid.
    const [, p] = s.access.split('.') as [string, string, string]
    const others = ['EdDSA', 'ES256', 'RS256'].filter((a) => a !== algorithm)
    for (const other of others) {
      const input = `${enc({ alg: other, typ: 'JWT', kid })}.${p}`
      const pair = other === 'EdDSA' ? generateKeyPairSync('ed25519') : other === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 })
      const sig = other === 'EdDSA'
        ? cryptoSign(null, Buffer.from(input), pair.privateKey)
        : other === 'ES256' ? cryptoSign('sha256', Buffer.from(input), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' }) : createSign('RSA-SHA256').update(input).sign(pair.privateKey)
      await assertRefused(t, app, `${input}.${sig.toString('base64url')}`, 'access', `${algorithm} kid, an attacker's ${other} signature`)
    }
    // Tampered payload under the genuine header and signature.
    const tampered = `${s.access.split('.')[0] ?? ''}.${enc({ ...payload, sub: 'someone-else', user_id: 'someone-else' })}.${s.access.split('.')[2] ?? ''}`
    await assertRefused(t, app, tampered, 'access', `${algorithm}: tampered claims`)
  }
})
