import { createPublicKey, verify as verifySignature, type JsonWebKey, type KeyObject } from 'node:crypto'

/*
 * Verifying an ID token a native app got from the provider's SDK (POST
 * /account/social/<name>/token), with node:crypto: the signature against the
 * provider's published keys (JWKS), then `iss`, `aud`, `exp`. The browser
 * flow's ID tokens are verified by openid-client instead (src/social/providers.ts).
 */

/** Why a token was refused: for the logs only (the client gets SOCIAL_TOKEN_INVALID). */
export class IdTokenError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'IdTokenError'
  }
}

const ALGORITHMS: Record<string, { hash: string | null, ec?: boolean, pss?: boolean }> = {
  RS256: { hash: 'sha256' },
  RS384: { hash: 'sha384' },
  RS512: { hash: 'sha512' },
  PS256: { hash: 'sha256', pss: true },
  ES256: { hash: 'sha256', ec: true },
  ES384: { hash: 'sha384', ec: true },
  EdDSA: { hash: null }
}

/** Seconds of clock difference tolerated with the provider. */
const LEEWAY = 30
/** A key that is not in the cached JWKS makes one new fetch at most this often (seconds): an unknown kid cannot make the service hammer the provider. */
const REFETCH_AFTER = 60

const part = (segment: string | undefined): Record<string, unknown> => {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'))
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {}
  throw new IdTokenError('not a JWT')
}

export interface IdTokenVerifierOptions {
  issuer: string
  audiences: string[]
  /** The provider's JWKS document (from its discovery document's jwks_uri). */
  fetchJwks: () => Promise<{ keys?: unknown[] }>
  nowMs?: () => number
}

/** A verifier that keeps the provider's keys between calls. */
export function idTokenVerifier ({ issuer, audiences, fetchJwks, nowMs = Date.now }: IdTokenVerifierOptions) {
  let keys = new Map<string, { key: KeyObject, jwk: JsonWebKey }>()
  let fetchedAt = -Infinity

  async function load (): Promise<void> {
    const document = await fetchJwks()
    const next = new Map<string, { key: KeyObject, jwk: JsonWebKey }>()
    for (const jwk of Array.isArray(document.keys) ? document.keys as JsonWebKey[] : []) {
      if (jwk.use !== undefined && jwk.use !== 'sig') continue
      try {
        next.set(typeof jwk.kid === 'string' ? jwk.kid : '', { key: createPublicKey({ key: jwk, format: 'jwk' }), jwk })
      } catch {
        // A key of a type node:crypto cannot use is skipped, not fatal.
      }
    }
    keys = next
    fetchedAt = nowMs()
  }

  async function keyFor (kid: string): Promise<{ key: KeyObject, jwk: JsonWebKey }> {
    const pick = () => keys.get(kid) ?? (kid === '' && keys.size === 1 ? [...keys.values()][0] : undefined)
    let found = pick()
    if (found === undefined && nowMs() - fetchedAt > REFETCH_AFTER * 1000) {
      await load()
      found = pick()
    }
    if (found === undefined) throw new IdTokenError(`no key "${kid}" in the provider's JWKS`)
    return found
  }

  /** The verified claims. Throws IdTokenError for a token that must be refused; other errors mean the provider could not be asked. */
  return async function verifyIdToken (token: string): Promise<Record<string, unknown>> {
    const segments = token.split('.')
    if (segments.length !== 3) throw new IdTokenError('not a signed JWT')
    const header = part(segments[0])
    const claims = part(segments[1])
    const alg = typeof header.alg === 'string' ? header.alg : ''
    const spec = ALGORITHMS[alg]
    if (spec === undefined) throw new IdTokenError(`algorithm "${alg}" not accepted`)
    const { key, jwk } = await keyFor(typeof header.kid === 'string' ? header.kid : '')
    if (typeof jwk.alg === 'string' && jwk.alg !== alg) throw new IdTokenError('the key is not for that algorithm')
    const signed = Buffer.from(`${segments[0]}.${segments[1]}`)
    const signature = Buffer.from(segments[2] ?? '', 'base64url')
    let good: boolean
    try {
      good = verifySignature(spec.hash, signed, {
        key,
        ...(spec.ec === true ? { dsaEncoding: 'ieee-p1363' as const } : {}),
        ...(spec.pss === true ? { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } : {})
      }, signature)
    } catch {
      good = false
    }
    if (!good) throw new IdTokenError('bad signature')
    if (claims.iss !== issuer) throw new IdTokenError('wrong issuer')
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
    if (!aud.some((a) => typeof a === 'string' && audiences.includes(a))) throw new IdTokenError('not for one of our client ids')
    // With several audiences, the party it was issued to must be ours too (OpenID Connect Core §3.1.3.7).
    if (aud.length > 1 && (typeof claims.azp !== 'string' || !audiences.includes(claims.azp))) throw new IdTokenError('azp is not one of our client ids')
    const now = nowMs() / 1000
    if (typeof claims.exp !== 'number' || claims.exp + LEEWAY <= now) throw new IdTokenError('expired')
    if (typeof claims.iat === 'number' && claims.iat - LEEWAY > now) throw new IdTokenError('issued in the future')
    if (typeof claims.sub !== 'string' || claims.sub === '') throw new IdTokenError('no subject')
    return claims
  }
}
