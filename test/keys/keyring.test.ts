import { calculateJwkThumbprint, type JWK } from 'jose'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { openSqliteStore } from '../../src/db/sqlite/store.js'
import type { Store } from '../../src/db/store.js'
import { ALGORITHMS, generateKey, secretKid, type Algorithm } from '../../src/keys/algorithms.js'
import { createSigner, createVerifier } from 'fast-jwt'
import { createKeyring, KEYS_RELOAD_INTERVAL, signerFor, type KeyringOptions } from '../../src/keys/keyring.js'
import { createSealer } from '../../src/keys/seal.js'
import { tempDir } from '../helpers/app.js'
import { storeDatabases } from '../helpers/store.js'

/*
 * The signing keys (src/keys/) against both stores: several instances on one
 * database converge on one key, a rotation reaches the others, retired keys
 * verify until their tokens have expired, and a kid's key accepts only its
 * own algorithm.
 */

const LEGACY = 'legacy-secret-legacy-secret-legacy-secret'
const claims = (now: number) => ({ token_type: 'access', jti: randomUUID(), iat: now, exp: now + 300, sub: 'u1', user_id: 'u1' })

function keyring (store: Store, over: Partial<KeyringOptions> = {}) {
  return createKeyring({ store, algorithm: 'HS256', legacySecret: LEGACY, accessLifetime: 300, refreshLifetime: 3600, ...over })
}

const header = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as Record<string, unknown>

for (const [kind, opener] of storeDatabases) {
  t.test(`${kind}: instances starting at once on one database converge on one signing key`, async (t) => {
    for (const algorithm of ALGORITHMS) {
      const db = await opener(t)
      const stores = await Promise.all([db.open(), db.open(), db.open()])
      const rings = stores.map((store) => keyring(store, { algorithm }))
      await Promise.all(rings.map(async (r) => { await r.init() }))
      const kids = new Set(rings.map((r) => r.signingKid))
      t.equal(kids.size, 1, `${algorithm}: one kid for all`)
      const rows = await stores[0]!.signingKeys.list()
      t.equal(rows.filter((r) => r.retiredAt === null).length, 1, `${algorithm}: one signing row`)
      const token = rings[0]!.sign(claims(Math.floor(Date.now() / 1000)))
      t.equal(header(token).kid, rings[0]!.signingKid, 'the token names its key')
      t.equal(header(token).alg, algorithm)
      for (const r of rings) t.ok(await r.verify(token), `${algorithm}: every instance verifies it`)
      if (algorithm === 'HS256') {
        t.equal(rings[0]!.signingKid, secretKid(LEGACY), 'the first HS256 key is the legacy secret: tokens from before keys keep working')
        t.same(rings[0]!.jwks(), { keys: [] }, 'no secret is ever published')
      } else {
        const jwks = rings[0]!.jwks()
        t.equal(jwks.keys.length, 1)
        t.notOk('d' in (jwks.keys[0] ?? {}), 'no private part')
      }
    }
  })

  t.test(`${kind}: a rotation is picked up by the other instances; the old key verifies until its tokens expire, then drops out`, async (t) => {
    const db = await opener(t)
    let now = 1_800_000_000
    const clock = () => now
    const a = keyring(await db.open(), { algorithm: 'EdDSA', nowSeconds: clock })
    const b = keyring(await db.open(), { algorithm: 'EdDSA', nowSeconds: clock })
    await a.init()
    await b.init()
    const oldKid = a.signingKid
    const oldToken = b.sign(claims(now))
    const rotated = await a.rotate()
    await a.reload()
    t.not(a.signingKid, oldKid, 'the rotating instance signs with the new key')
    t.equal(b.signingKid, oldKid, 'the other one still signs with the old key…')
    const newToken = a.sign(claims(now))
    t.ok(await b.verify(newToken), '…but verifies the new kid at once (an unknown kid triggers a reload)')
    now += KEYS_RELOAD_INTERVAL
    await b.reload() // what its timer does every KEYS_RELOAD_INTERVAL seconds
    t.equal(b.signingKid, rotated.kid, 'and signs with it after its periodic reload')
    t.ok(await a.verify(oldToken, { ignoreExpiration: true }), 'the old key still verifies')
    t.equal(a.jwks().keys.length, 2, 'both public keys are published')
    now = rotated.retiredVerifyUntil + 1
    await a.reload()
    t.equal(a.jwks().keys.length, 1, 'after the overlap, the old key is gone from the JWKS')
    await t.rejects(a.verify(oldToken, { ignoreExpiration: true }), { code: 'TOKEN_INVALID' }, 'and verifies nothing')
    t.equal(a.overlap, KEYS_RELOAD_INTERVAL + 3600 + 30, 'overlap: reload delay + the longest token lifetime + clock leeway')
    await a.rotate()
    t.equal((await (await db.open()).signingKeys.list()).length, 2, 'rotate deletes keys past their overlap')
  })

  t.test(`${kind}: store.signingKeys.add refuses a known kid and, with onlyIfNone, a second signing key`, async (t) => {
    const db = await opener(t)
    const store = await db.open()
    const k1 = { kid: 'k1', algorithm: 'HS256' as const, secret: 's1', publicJwk: null, createdAt: 100 }
    t.equal(await store.signingKeys.add(k1, { onlyIfNone: true }), true)
    t.equal(await store.signingKeys.add({ ...k1, kid: 'k2' }, { onlyIfNone: true }), false, 'one signs already')
    t.equal(await store.signingKeys.add({ ...k1, createdAt: 200 }), false, 'kid k1 exists')
    t.equal(await store.signingKeys.add({ ...k1, kid: 'k3', createdAt: 300 }), true, 'a rotation')
    const rows = (await store.signingKeys.list()).sort((x, y) => x.createdAt - y.createdAt)
    t.same(rows.map((r) => [r.kid, r.retiredAt]), [['k1', 300], ['k3', null]])
    t.equal(await store.signingKeys.purgeRetired(300), 0, 'retired at 300 is not before 300')
    t.equal(await store.signingKeys.purgeRetired(301), 1)
    t.same((await store.signingKeys.list()).map((r) => r.kid), ['k3'], 'the signing key is never purged')
    t.equal(await store.signingKeys.remove('k3'), false, 'nor removed')
    t.equal(await store.signingKeys.add({ ...k1, kid: 'k4', createdAt: 400 }), true)
    t.equal(await store.signingKeys.remove('k3'), true, 'a retired key is')
    t.equal(await store.signingKeys.remove('k3'), false, 'once')
    t.same((await store.signingKeys.list()).map((r) => r.kid), ['k4'])
  })

  t.test(`${kind}: private keys are sealed at rest with JWT_KEYS_ENCRYPTION_KEY`, async (t) => {
    const db = await opener(t)
    const store = await db.open()
    const encryptionKey = 'e'.repeat(40)
    const ring = keyring(store, { algorithm: 'ES256', encryptionKey })
    await ring.init()
    const [row] = await store.signingKeys.list()
    t.match(row?.secret, /^sealed:v1:/)
    t.notMatch(row?.secret, /PRIVATE KEY/)
    const token = ring.sign(claims(Math.floor(Date.now() / 1000)))
    const other = keyring(await db.open(), { algorithm: 'ES256', encryptionKey })
    await other.init()
    t.ok(await other.verify(token), 'another instance with the same key opens it')
    await t.rejects(keyring(await db.open(), { algorithm: 'ES256' }).init(), /encrypted: set JWT_KEYS_ENCRYPTION_KEY/)
    await t.rejects(keyring(await db.open(), { algorithm: 'ES256', encryptionKey: 'x'.repeat(40) }).init(), /wrong key/)
  })
}

t.test('a kid selects its key and that key accepts only its own algorithm', async (t) => {
  const store = openSqliteStore({ path: join(tempDir(t), 'auth.db'), synchronous: 'normal' })
  t.teardown(() => store.close())
  const now = Math.floor(Date.now() / 1000)
  const tokens: Record<string, string> = {}
  const rings: Record<string, ReturnType<typeof keyring>> = {}
  for (const algorithm of ALGORITHMS) {
    const ring = keyring(store, { algorithm })
    await ring.init()
    rings[algorithm] = ring
    tokens[algorithm] = ring.sign(claims(now))
  }
  const ring = rings.RS256!
  await ring.reload()
  for (const algorithm of ALGORITHMS) t.ok(await ring.verify(tokens[algorithm]!), `${algorithm} token verifies by its kid after the switch to RS256`)
  // Re-label each token with another key's kid: the signature was made by a key of another algorithm.
  for (const from of ALGORITHMS) {
    for (const to of ALGORITHMS) {
      if (from === to) continue
      const [, p, s] = tokens[from]!.split('.')
      const h = Buffer.from(JSON.stringify({ ...header(tokens[from]!), kid: header(tokens[to]!).kid })).toString('base64url')
      await t.rejects(ring.verify(`${h}.${p}.${s}`), { code: 'TOKEN_INVALID' }, `${from} token under the ${to} key's kid`)
    }
  }
})

t.test('generated keys: each algorithm, kid = RFC 7638 thumbprint, sealing round-trips', async (t) => {
  for (const algorithm of ['EdDSA', 'ES256', 'RS256'] as Algorithm[]) {
    const key = await generateKey(algorithm)
    t.equal(key.publicJwk?.kid, key.kid)
    t.equal(key.publicJwk?.alg, algorithm)
    t.match(key.kid, /^[\w-]{43}$/)
    // An independent implementation of RFC 7638 gives the same kid.
    const { kid: _kid, alg: _alg, use: _use, ...members } = key.publicJwk as Record<string, unknown>
    t.equal(key.kid, await calculateJwkThumbprint(members as JWK), `${algorithm}: the kid is the key's RFC 7638 thumbprint`)
  }
  const sealer = createSealer('k'.repeat(32))
  t.equal(sealer.open(sealer.seal('hello')), 'hello')
  t.equal(createSealer(undefined).seal('plain'), 'plain', 'without a key nothing is sealed')
})

t.test('sqlite: the database file (signing keys, hashes) and its WAL are readable by the owner only', async (t) => {
  const { statSync } = await import('node:fs')
  const path = join(tempDir(t), 'auth.db')
  const store = openSqliteStore({ path, synchronous: 'full' })
  t.teardown(() => store.close())
  await keyring(store).init()
  t.equal(statSync(path).mode & 0o777, 0o600)
  t.equal(statSync(`${path}-wal`).mode & 0o777, 0o600)
})

t.test('HS256 tokens are signed byte for byte as fast-jwt signs them, and its verifier accepts them', async (t) => {
  const secret = 's'.repeat(48)
  const kid = secretKid(secret)
  const ours = signerFor({ kid, algorithm: 'HS256', secret })
  const theirs = createSigner({ key: secret, algorithm: 'HS256', kid, header: { alg: 'HS256', typ: 'at+jwt' } }) as (claims: object) => string
  const verify = createVerifier({ key: secret, algorithms: ['HS256'] })
  const now = Math.floor(Date.now() / 1000)
  for (const claims of [
    { token_type: 'access', jti: randomUUID(), iat: now, sub: 'u-1', user_id: 'u-1', exp: now + 300, email: 'ana@example.com' },
    { token_type: 'refresh', jti: randomUUID(), iat: now, sub: 'u-2', user_id: 'u-2', exp: now + 86400 },
    { token_type: 'access', jti: randomUUID(), iat: now, sub: 'u-3', user_id: 'u-3', exp: now + 300, email: 'Ünïcode+tag@exämple.com' }
  ]) {
    const token = ours(claims)
    t.equal(token, theirs(claims), `${claims.token_type}: identical to fast-jwt's`)
    t.same(verify(token), claims)
    t.same(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()), { alg: 'HS256', typ: 'at+jwt', kid })
  }
  const other = signerFor({ kid, algorithm: 'HS256', secret: 't'.repeat(48) })
  t.throws(() => verify(other({ sub: 'x', exp: now + 60, iat: now })), 'another secret does not verify')
})

t.test('HS256 without JWT_SECRET: instances with different data-directory secrets still converge on one stored key', async (t) => {
  const path = join(tempDir(t), 'auth.db')
  const stores = [openSqliteStore({ path, synchronous: 'normal' }), openSqliteStore({ path, synchronous: 'normal' })]
  t.teardown(() => { for (const s of stores) s.close() })
  const [a, b] = [keyring(stores[0]!, { legacySecret: 'a'.repeat(40) }), keyring(stores[1]!, { legacySecret: 'b'.repeat(40) })]
  await Promise.all([a.init(), b.init()])
  t.equal(a.signingKid, b.signingKid, 'one signing key: the secret of whichever stored it first')
  t.ok([secretKid('a'.repeat(40)), secretKid('b'.repeat(40))].includes(String(a.signingKid)))
  t.ok(await b.verify(a.sign(claims(Math.floor(Date.now() / 1000)))), 'each verifies what the other signs')
  t.ok(await a.verify(b.sign(claims(Math.floor(Date.now() / 1000)))))
})

t.test('keyFor: the key a header names, refused before any signature for what verify refuses', async (t) => {
  const store = openSqliteStore({ path: join(tempDir(t), 'auth.db'), synchronous: 'normal' })
  t.teardown(() => store.close())
  let nowSeconds = Math.floor(Date.now() / 1000)
  const hs = keyring(store, { nowSeconds: () => nowSeconds })
  await hs.init()
  const kid = String(hs.signingKid)
  t.equal(hs.keyFor({ alg: 'HS256', typ: 'JWT', kid }), LEGACY, 'the HS256 key: its secret, at once')
  t.equal(hs.keyFor({ alg: 'HS256', typ: 'JWT' }), LEGACY, 'no kid: the legacy secret')
  const refused: Array<[string, unknown]> = [
    ['another algorithm', { alg: 'HS512', kid }], ['alg none', { alg: 'none', kid }], ['no alg', { kid }],
    ['a crit header', { alg: 'HS256', kid, crit: ['b64'] }], ['a falsy crit header', { alg: 'HS256', kid, crit: null }],
    ['a kid that is no string', { alg: 'HS256', kid: 7 }], ['an empty kid', { alg: 'HS256', kid: '' }], ['a kid of 101 characters', { alg: 'HS256', kid: 'k'.repeat(101) }],
    ['no header object', null], ['an array', [kid]]
  ]
  for (const [what, header] of refused) t.throws(() => hs.keyFor(header), { code: 'TOKEN_INVALID' }, what)
  await t.rejects(async () => await hs.keyFor({ alg: 'HS256', kid: 'hs-unknown' }), { code: 'TOKEN_INVALID' }, 'an unknown kid: after a look at the table')

  const ed = keyring(store, { algorithm: 'EdDSA', nowSeconds: () => nowSeconds })
  await ed.init()
  const edKid = String(ed.signingKid)
  t.match(ed.keyFor({ alg: 'EdDSA', kid: edKid }), /^-----BEGIN PUBLIC KEY-----/, 'an asymmetric key: its public key')
  t.throws(() => ed.keyFor({ alg: 'HS256', kid: edKid }), { code: 'TOKEN_INVALID' }, 'HS256 under an EdDSA kid')
  // The HS256 key, retired by the switch to EdDSA, verifies until its tokens have expired, then not.
  await ed.reload()
  t.equal(ed.keyFor({ alg: 'HS256', kid }), LEGACY)
  nowSeconds += ed.overlap + 1
  t.throws(() => ed.keyFor({ alg: 'HS256', kid }), { code: 'TOKEN_INVALID' }, 'past its time')
})

t.test('verifyNow: at once for a key in the set, remembering what it verified; a promise only for a kid it must look up', async (t) => {
  const store = openSqliteStore({ path: join(tempDir(t), 'auth.db'), synchronous: 'normal' })
  t.teardown(() => store.close())
  const ring = keyring(store)
  await ring.init()
  const token = ring.sign(claims(Math.floor(Date.now() / 1000)))
  const first = ring.verifyNow(token)
  t.notOk(first instanceof Promise, 'no promise')
  t.equal(ring.verifyNow(token), first, 'the remembered payload itself')
  t.not(ring.verifyNow(token, { ignoreExpiration: true }), first, 'verified again when expiry is ignored (logout)')
  t.throws(() => ring.verifyNow(`${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`), { code: 'TOKEN_INVALID' })
  const unknown = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'hs-unknown' })).toString('base64url')}.${token.split('.').slice(1).join('.')}`
  const later = ring.verifyNow(unknown)
  t.ok(later instanceof Promise, 'an unknown kid: a promise')
  await t.rejects(later as Promise<unknown>, { code: 'TOKEN_INVALID' })
})
