import { createHash, createHmac, createPublicKey, createSecretKey, randomBytes } from 'node:crypto'
import { createSigner, createVerifier } from 'fast-jwt'
import { BoundedCache } from '../bounded-cache.js'
import type { Config } from '../config.js'
import { VERIFIED_TOKENS_CACHED } from '../config-env.js'
import type { SigningKey, Store } from '../db/store.js'
import { TokenExpiredError, TokenInvalidError } from '../errors.js'
import { fromPrivateKeyPem, fromSecret, generateKey, type Algorithm, type KeyMaterial } from './algorithms.js'
import { legacySecret } from './legacy-secret.js'
import { createSealer } from './seal.js'
import { IAT_LEEWAY, type TokenType } from '../tokens/claims.js'

/** Seconds between two reads of the keys table: a rotation reaches every instance within this. */
export const KEYS_RELOAD_INTERVAL = 30
/** A token naming an unknown kid triggers a reload, at most this often (seconds). */
const UNKNOWN_KID_RELOAD = 5
/** Claims without which fast-jwt refuses a token (their types and values are the token service's to check). */
export const REQUIRED_CLAIMS = ['exp', 'iat', 'jti', 'sub', 'token_type']
/**
 * Access tokens remembered as verified, by their exact text, until their
 * `exp` (src/bounded-cache.ts: at most this many, the oldest leaving first). A client sends the same
 * access token with every request of its lifetime; a remembered one skips
 * only its decoding and signature check: its claims and user are checked on
 * every use by the token service. Only successes are kept, so a flood of bad
 * tokens cannot grow memory or push good ones out; a key that leaves the set
 * empties it. Keyed by the text rather than by a hash of it (fast-jwt's own
 * cache): hashing every token costs more than the lookup saves.
 */
export { VERIFIED_TOKENS_CACHED }

/** The `typ` header of access tokens (RFC 9068 §2.1): what every verifier requires. */
export const ACCESS_TYP = 'at+jwt'
/** The `typ` header of refresh tokens: never `at+jwt`, so no verifier takes one for an access token. */
export const REFRESH_TYP = 'refresh+jwt'
/** The service secret (store.serviceSecrets) that signs refresh tokens: HS256, never published. */
export const REFRESH_KEY_NAME = 'refresh_token_key'
/**
 * Headers that carry or point at a key (RFC 7515 §4.1.2-4.1.6): the service
 * only ever uses its own keys, picked by `kid`, and refuses a token that
 * offers another (RFC 8725 §3.10), whatever else it carries.
 */
export const KEY_HEADERS = ['jku', 'jwk', 'x5u', 'x5c'] as const
/** The service secret (store.serviceSecrets) holding the generated legacy secret, with JWT_KEYS_ENCRYPTION_KEY. */
export const LEGACY_SECRET_NAME = 'legacy_secret'

/** The kid of the refresh-token key: derived from it, recognisably not a signing key's. */
function refreshKid (secret: string): string {
  return `rt-${createHash('sha256').update(`auth-service refresh kid\0${secret}`).digest('base64url').slice(0, 22)}`
}

export interface KeyringOptions {
  store: Store
  algorithm: Algorithm
  /** JWT_SECRET when set explicitly: under HS256 it signs, always (it is never stored). */
  pinnedSecret?: string | undefined
  /**
   * The HS256 secret of a service that signed before keys existed (JWT_SECRET
   * or the data directory's jwt-secret file): the first HS256 key, so that
   * tokens issued before an upgrade (without kid) keep working until they expire.
   * A function reads the file (`create`: make it when missing, else answer
   * undefined): with `encryptionKey` the secret then lives sealed in the
   * database, and the file is read only until it is stored there.
   */
  legacySecret: string | ((options: { create: boolean }) => string | undefined)
  /** JWT_PRIVATE_KEY_FILE's PEM: becomes the signing key when it is new to the database. */
  privateKeyPem?: string | undefined
  /** JWT_KEYS_ENCRYPTION_KEY. */
  encryptionKey?: string | undefined
  /** Access tokens remembered as verified (TOKEN_CACHE_SIZE; VERIFIED_TOKENS_CACHED by default, 0: none). */
  verifiedTokensCached?: number
  /** Seconds. */
  accessLifetime: number
  refreshLifetime: number
  /** Unix seconds; injectable for tests. */
  nowSeconds?: () => number
}

/** A published key (RFC 7517): public members only. */
export interface PublicJwk { kty: string, kid: string, alg: string, use: string, crv?: string, x?: string, y?: string, n?: string, e?: string }

interface LoadedKey {
  kid: string
  algorithm: Algorithm
  /** What verifies its tokens: the HS256 secret, or the public key (SPKI PEM). */
  key: string
  publicJwk: Record<string, unknown> | null
  /** Unix seconds after which nothing it signed can still be valid; Infinity while it signs. */
  verifiesUntil: number
  verify: (token: string) => unknown
  verifyIgnoringExpiry: (token: string) => unknown
}

type MaybePromise<T> = T | Promise<T>

/** Verification that failed, as the domain's errors (fast-jwt's codes: only expiry is not "invalid"). */
function refuse (err: unknown): never {
  if ((err as { code?: string }).code === 'FAST_JWT_EXPIRED') throw new TokenExpiredError()
  throw new TokenInvalidError('Token is invalid.')
}

/**
 * HS256 signing: the JWS compact form with Node's HMAC over a header encoded
 * once — byte for byte what fast-jwt's signer makes (test/keys/keyring.test.ts), at
 * half its cost (it encodes the header and converts base64 to base64url with
 * regular expressions on every token; a refresh signs two). The claims are the
 * token service's own, whole seconds. Other algorithms: fast-jwt's signer,
 * which keeps the claims' own `iat`.
 */
export function signerFor (material: Pick<KeyMaterial, 'kid' | 'algorithm' | 'secret'>, typ: string = ACCESS_TYP): (claims: object) => string {
  if (material.algorithm !== 'HS256') return createSigner({ key: material.secret, algorithm: material.algorithm, kid: material.kid, header: { alg: material.algorithm, typ } }) as (claims: object) => string
  const key = createSecretKey(Buffer.from(material.secret, 'utf8'))
  const header = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ, kid: material.kid })).toString('base64url')}.`
  return (claims) => {
    const input = header + Buffer.from(JSON.stringify(claims)).toString('base64url')
    return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
  }
}

function invalid (): never {
  throw new TokenInvalidError('Token is invalid.')
}

function headerOf (token: string): unknown {
  const dot = token.indexOf('.')
  if (dot <= 0) invalid()
  try {
    return JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString())
  } catch {
    invalid()
  }
}

/**
 * The keys that sign and verify tokens, shared by every instance through the
 * store's `signing_keys` table. One key signs (the newest); the keys it
 * replaced keep verifying — each only under its own algorithm, picked by the
 * token's `kid` — until every token they signed has expired, then drop out.
 * A rotation made elsewhere (`keys rotate`, another instance) is read within
 * KEYS_RELOAD_INTERVAL seconds, or at once for a token naming a new kid.
 */
export function createKeyring (options: KeyringOptions) {
  const { store, algorithm, accessLifetime, refreshLifetime, nowSeconds = () => Math.floor(Date.now() / 1000) } = options
  const sealer = createSealer(options.encryptionKey)
  const pinned = algorithm === 'HS256' && options.pinnedSecret !== undefined ? fromSecret(options.pinnedSecret) : undefined
  /** How long a retired key keeps verifying: other instances may sign with it until they reload, then its tokens live on. */
  const overlap = KEYS_RELOAD_INTERVAL + Math.max(accessLifetime, refreshLifetime) + IAT_LEEWAY
  let legacy = typeof options.legacySecret === 'string' ? options.legacySecret : undefined
  let legacyKid = legacy === undefined ? undefined : fromSecret(legacy).kid
  /** Where the legacy secret came from (init): the environment, the data directory's file, or the database. */
  let legacySource: 'given' | 'file' | 'database' = 'given'

  let keys = new Map<string, LoadedKey>()
  let sign: ((claims: object) => string) | undefined
  let signingKid: string | undefined
  let lastUnknownKidReload = -Infinity
  /** The refresh-token key (init): verifies only tokens whose typ is REFRESH_TYP, and signs them. */
  let refreshKey: LoadedKey | undefined
  let signRefresh: ((claims: object) => string) | undefined
  let reloading: Promise<void> | undefined
  const cacheSize = options.verifiedTokensCached ?? VERIFIED_TOKENS_CACHED
  const verified = new BoundedCache<unknown>(cacheSize)

  function load (material: KeyMaterial, verifiesUntil: number): LoadedKey {
    const key = material.algorithm === 'HS256' ? material.secret : createPublicKey(material.secret).export({ type: 'spki', format: 'pem' }).toString()
    // One verifier per key, accepting that key's algorithm only (keyFor refuses
    // any other too): a token whose `alg` differs from its key's (RS256 → HS256
    // with the public key as secret, `none`, …) fails whatever it carries.
    const base = { key, algorithms: [material.algorithm], requiredClaims: REQUIRED_CLAIMS }
    const verify = createVerifier(base)
    const verifyIgnoringExpiry = createVerifier({ ...base, ignoreExpiration: true })
    return { kid: material.kid, algorithm: material.algorithm, key, publicJwk: material.publicJwk, verifiesUntil, verify, verifyIgnoringExpiry }
  }

  function materialOf (row: SigningKey): KeyMaterial {
    return { kid: row.kid, algorithm: row.algorithm, secret: sealer.open(row.secret), publicJwk: row.publicJwk === null ? null : JSON.parse(row.publicJwk) as Record<string, unknown> }
  }

  /** A key as the store keeps it (private material sealed). */
  function stored (material: KeyMaterial) {
    return { kid: material.kid, algorithm: material.algorithm, secret: sealer.seal(material.secret), publicJwk: material.publicJwk === null ? null : JSON.stringify(material.publicJwk) }
  }

  /** Reads the table and replaces the key set; a failure leaves the previous set in place. */
  async function reload (): Promise<void> {
    const rows = await store.signingKeys.list()
    const t = nowSeconds()
    const next = new Map<string, LoadedKey>()
    let current: SigningKey | undefined
    for (const row of rows) {
      const verifiesUntil = row.retiredAt === null ? Infinity : row.retiredAt + overlap
      if (verifiesUntil < t) continue
      // A kid's material never changes: a key loaded before is kept (only its
      // end of verification may have moved), not unsealed and rebuilt again.
      const known = keys.get(row.kid)
      next.set(row.kid, known !== undefined ? { ...known, verifiesUntil } : load(materialOf(row), verifiesUntil))
      if (row.retiredAt === null) current = row
    }
    if (pinned !== undefined) next.set(pinned.kid, keys.get(pinned.kid) ?? load(pinned, Infinity))
    if (pinned === undefined && current === undefined) throw new Error('no signing key is stored')
    if ((pinned?.kid ?? current?.kid) !== signingKid || sign === undefined) {
      const signing = pinned ?? materialOf(current as SigningKey)
      sign = signerFor(signing)
      signingKid = signing.kid
    }
    // A key withdrawn or past its time: nothing it verified may skip the check.
    for (const kid of keys.keys()) if (!next.has(kid)) { verified.clear(); break }
    keys = next
  }

  /** The payload of an access token verified earlier and not expired since, if any. */
  function remembered (token: string): unknown {
    return verified.get(token)
  }

  /** Remembers a payload just verified: access tokens only (a refresh token is presented once), with a usable `exp`. */
  function remember (token: string, payload: unknown): void {
    const { token_type: type, exp } = (payload ?? {}) as { token_type?: unknown, exp?: unknown }
    if (cacheSize > 0 && type === 'access' && typeof exp === 'number' && Number.isFinite(exp)) verified.set(token, payload, exp * 1000)
  }

  /** One reload at a time; callers share it. */
  async function reloadOnce (): Promise<void> {
    reloading ??= reload().finally(() => { reloading = undefined })
    await reloading
  }

  /** A kid not in the set (verify looks in it first, without awaiting). */
  async function lookupUnknown (kid: string): Promise<LoadedKey | undefined> {
    // Perhaps a rotation this instance has not read yet: look, but not for
    // every bad token (a flood of made-up kids costs one read per 5 seconds).
    if (nowSeconds() - lastUnknownKidReload < UNKNOWN_KID_RELOAD) return undefined
    lastUnknownKidReload = nowSeconds()
    await reloadOnce()
    return keys.get(kid)
  }

  /** The key may verify a token of `alg` now: known, within its time, and that token's algorithm its own. */
  function usable (key: LoadedKey | undefined, alg: unknown): LoadedKey {
    if (key === undefined || key.verifiesUntil < nowSeconds() || alg !== key.algorithm) invalid()
    return key
  }

  /**
   * The key a token's header names by its `kid` (a token without one is from
   * before keys had ids: the legacy HS256 secret's), for a token of `use`
   * (either when undefined). `typ: refresh+jwt` names the refresh-token key,
   * and only it; `at+jwt` a signing key; `JWT` (or none) a signing key too:
   * the tokens issued before access tokens had their own typ (refresh
   * tokens of before the upgrade keep refreshing until they expire). At once
   * for a key in the set; a promise only when an unknown kid makes it read
   * the table first. Throws, or rejects, TokenInvalidError.
   */
  function loadedKeyFor (header: unknown, use?: TokenType): MaybePromise<LoadedKey> {
    if (header === null || typeof header !== 'object' || Array.isArray(header)) invalid()
    const h = header as Record<string, unknown>
    // RFC 7515 §4.1.11: the service understands no JWS extension, so a `crit`
    // header of any value is refused (fast-jwt lets a falsy one pass).
    if ('crit' in h) invalid()
    for (const name of KEY_HEADERS) if (name in h) invalid()
    if (h.typ === REFRESH_TYP) {
      if (use === 'access' || refreshKey === undefined || h.kid !== refreshKey.kid) invalid()
      return usable(refreshKey, h.alg)
    }
    if (h.typ === ACCESS_TYP ? use === 'refresh' : h.typ !== undefined && h.typ !== 'JWT') invalid()
    const kid = h.kid === undefined ? legacyKid : h.kid
    if (kid === undefined) invalid()
    if (typeof kid !== 'string' || kid === '' || kid.length > 100) invalid()
    const key = keys.get(kid)
    return key !== undefined ? usable(key, h.alg) : lookupUnknown(kid).then((found) => usable(found, h.alg))
  }

  function verifyWith (key: LoadedKey, token: string, typ: unknown, ignoreExpiration: boolean): unknown {
    let payload: unknown
    try {
      payload = ignoreExpiration ? key.verifyIgnoringExpiry(token) : key.verify(token)
    } catch (err) {
      refuse(err)
    }
    // The typ and the claim agree: an at+jwt token is an access token, a refresh+jwt one a refresh token.
    const type = (payload as { token_type?: unknown } | null)?.token_type
    if ((typ === ACCESS_TYP && type !== 'access') || (typ === REFRESH_TYP && type !== 'refresh')) invalid()
    if (!ignoreExpiration) remember(token, payload)
    return payload
  }

  /**
   * `verify`, without a promise when the token is remembered or its key is in
   * the set (nearly always). With `use`, a token whose header says the other
   * type is refused before its signature is checked.
   */
  function verifyNow (token: string, opts?: { ignoreExpiration?: boolean, use?: TokenType }): MaybePromise<unknown> {
    const ignoreExpiration = opts?.ignoreExpiration === true
    const known = ignoreExpiration ? undefined : remembered(token)
    if (known !== undefined) return known
    const header = headerOf(token)
    const key = loadedKeyFor(header, opts?.use)
    const typ = (header as { typ?: unknown }).typ
    return key instanceof Promise ? key.then((k) => verifyWith(k, token, typ, ignoreExpiration)) : verifyWith(key, token, typ, ignoreExpiration)
  }

  /**
   * The legacy secret: as given (JWT_SECRET, tests); without an encryption
   * key, the data directory's file (made on the first start); with one, the
   * sealed copy in the database — stored there from the file (if it exists)
   * or from a new random secret at the first start with the key, after which
   * the file is never read again.
   */
  async function resolveLegacy (): Promise<string> {
    if (typeof options.legacySecret === 'string') return options.legacySecret
    if (options.encryptionKey === undefined) {
      legacySource = 'file'
      return options.legacySecret({ create: true }) as string
    }
    legacySource = 'database'
    const stored = await store.serviceSecrets.get(LEGACY_SECRET_NAME)
    if (stored !== undefined) return sealer.open(stored)
    const value = options.legacySecret({ create: false }) ?? randomBytes(48).toString('base64url')
    return sealer.open(await store.serviceSecrets.getOrAdd(LEGACY_SECRET_NAME, sealer.seal(value), nowSeconds()))
  }

  /**
   * With an encryption key: every key row and service secret still stored in
   * clear (from before the key was configured) is sealed now. A compare-and-set
   * per row: instances starting together seal each row once.
   */
  async function sealStoredInClear (): Promise<void> {
    if (options.encryptionKey === undefined) return
    for (const row of await store.signingKeys.list()) {
      if (!sealer.isSealed(row.secret)) await store.signingKeys.replaceSecret(row.kid, row.secret, sealer.seal(row.secret))
    }
    for (const name of [REFRESH_KEY_NAME, LEGACY_SECRET_NAME]) {
      const value = await store.serviceSecrets.get(name)
      if (value !== undefined && !sealer.isSealed(value)) await store.serviceSecrets.replace(name, value, sealer.seal(value))
    }
  }

  return {
    /**
     * At start: seals what is stored in clear (with an encryption key), makes
     * sure the database holds a signing key for JWT_ALGORITHM (the key file's,
     * the legacy HS256 secret, or a new one: with several instances starting
     * at once, one key wins), then loads the key set and the refresh-token key.
     */
    async init (): Promise<void> {
      await sealStoredInClear()
      legacy = await resolveLegacy()
      legacyKid = fromSecret(legacy).kid
      if (options.privateKeyPem !== undefined) {
        const material = fromPrivateKeyPem(options.privateKeyPem, algorithm)
        // A new file takes over signing; one seen before (even retired by a rotation since) does not.
        await store.signingKeys.add({ ...stored(material), createdAt: nowSeconds() })
      } else if (pinned === undefined) {
        const rows = await store.signingKeys.list()
        const current = rows.find((r) => r.retiredAt === null)
        if (current === undefined) {
          const first = algorithm === 'HS256' ? fromSecret(legacy) : await generateKey(algorithm)
          await store.signingKeys.add({ ...stored(first), createdAt: nowSeconds() }, { onlyIfNone: true })
        } else if (current.algorithm !== algorithm) {
          // JWT_ALGORITHM changed: a rotation to the new algorithm; the old keys verify until their tokens expire.
          await store.signingKeys.add({ ...stored(await generateKey(algorithm)), createdAt: nowSeconds() })
        }
      }
      await reload()
      // The refresh-token key: one random secret for every instance, made by
      // the first start, kept in the database (sealed like the keys) and never
      // published, whatever JWT_ALGORITHM is.
      const secret = sealer.open(await store.serviceSecrets.getOrAdd(REFRESH_KEY_NAME, sealer.seal(randomBytes(48).toString('base64url')), nowSeconds()))
      const material = { kid: refreshKid(secret), algorithm: 'HS256' as const, secret, publicJwk: null }
      refreshKey = load(material, Infinity)
      signRefresh = signerFor(material, REFRESH_TYP)
    },

    /**
     * A new signing key of JWT_ALGORITHM (`keys rotate`), and the keys no token
     * can need any more deleted. Refused while an explicit JWT_SECRET signs.
     */
    async rotate (): Promise<{ kid: string, algorithm: Algorithm, retiredVerifyUntil: number, purged: number }> {
      if (pinned !== undefined) throw new Error('JWT_SECRET is set, so it signs every token: change it in the environment instead, or unset it to let the service keep (and rotate) its secrets in the database')
      const material = await generateKey(algorithm)
      const t = nowSeconds()
      await store.signingKeys.add({ ...stored(material), createdAt: t })
      const purged = await store.signingKeys.purgeRetired(t - overlap)
      return { kid: material.kid, algorithm, retiredVerifyUntil: t + overlap, purged }
    },

    /** Re-reads the table (every KEYS_RELOAD_INTERVAL seconds, by plugins/app/keys.ts); throws when it cannot. */
    reload: reloadOnce,

    /** An access token (`typ: at+jwt`), signed by the signing key. */
    sign (claims: object): string {
      if (sign === undefined) throw new Error('keyring not initialised')
      return sign(claims)
    },

    /** A refresh token (`typ: refresh+jwt`), signed by the refresh-token key: nothing published verifies it. */
    signRefresh (claims: object): string {
      if (signRefresh === undefined) throw new Error('keyring not initialised')
      return signRefresh(claims)
    },

    /**
     * The payload of a token signed by one of the keys, the one its `kid`
     * names (a token without one is from before keys had ids: the legacy
     * HS256 secret's), and with that key's algorithm only. Rejects with
     * TokenExpiredError or TokenInvalidError.
     */
    async verify (token: string, opts?: { ignoreExpiration?: boolean, use?: TokenType }): Promise<unknown> {
      return await verifyNow(token, opts)
    },

    /** `verify`, answered without a promise when the token is remembered or its key is in the set; throws then. */
    verifyNow,

    /**
     * An access token's payload as verified earlier (by `verify` or by
     * @fastify/jwt for a request: plugins/app/authenticate.ts), while its `exp`
     * has not passed and every key that was in the set when it was verified still is.
     */
    remembered,

    /** Remembers a payload that has just passed verification (access tokens with a usable `exp` only). */
    remember,

    /**
     * What verifies the token whose header this is (the HS256 secret or the
     * public key, PEM): what `verify` picks, refusing what it refuses before
     * any signature is checked — an unknown or malformed kid, a key past its
     * time, an `alg` that is not the key's, any `crit` header, a key carried or
     * pointed at by the header (jku, jwk, x5u, x5c), a refresh token's typ or
     * key. For @fastify/jwt
     * (plugins/external/jwt.ts), which verifies the requests' access tokens.
     */
    keyFor (header: unknown): MaybePromise<string> {
      const key = loadedKeyFor(header, 'access')
      return key instanceof Promise ? key.then((k) => k.key) : key.key
    },

    /** RFC 7517 key set: the public keys that may verify a live token (none under HS256). */
    jwks (): { keys: PublicJwk[] } {
      const t = nowSeconds()
      return { keys: [...keys.values()].filter((k) => k.publicJwk !== null && k.verifiesUntil >= t).map((k) => k.publicJwk as unknown as PublicJwk) }
    },

    /**
     * Withdraws a retired key at once (a leaked key): deleted from the table,
     * so every instance stops accepting it at its next read (≤ 30 s).
     */
    async revoke (kid: string): Promise<boolean> {
      const removed = await store.signingKeys.remove(kid)
      if (removed) await reloadOnce()
      return removed
    },

    /** The kid that signs now. */
    get signingKid (): string | undefined { return signingKid },
    /** The legacy HS256 secret (init): JWT_SECRET when set. */
    get legacySecret (): string {
      if (legacy === undefined) throw new Error('keyring not initialised')
      return legacy
    },
    /** Where the legacy secret was read from at init: with `database`, the data directory's jwt-secret file is not read. */
    get legacySecretSource (): 'given' | 'file' | 'database' { return legacySource },
    /** Seconds a retired key keeps verifying. */
    overlap
  }
}

export type Keyring = ReturnType<typeof createKeyring>

/**
 * The keyring the configuration describes: the same for the server and the
 * command line. Without JWT_SECRET this makes the data directory's secret on
 * the first start (src/keys/legacy-secret.ts).
 */
export function keyringFromConfig (config: Config, store: Store): Keyring {
  return createKeyring({
    store,
    algorithm: config.jwtAlgorithm,
    pinnedSecret: config.jwtSecret,
    legacySecret: config.jwtSecret ?? ((options) => legacySecret(config, options)),
    privateKeyPem: config.jwtPrivateKeyPem,
    encryptionKey: config.jwtKeysEncryptionKey,
    accessLifetime: config.accessTokenLifetime,
    refreshLifetime: config.refreshTokenLifetime,
    verifiedTokensCached: config.tokenCacheSize
  })
}
