import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'

/** The signing algorithms the service offers (JWT_ALGORITHM). */
export const ALGORITHMS = ['HS256', 'EdDSA', 'ES256', 'RS256'] as const
export type Algorithm = typeof ALGORITHMS[number]

/** Key material as the keyring uses it: the HS256 secret, or a PKCS#8 PEM private key. */
export interface KeyMaterial {
  kid: string
  algorithm: Algorithm
  /** HS256: the secret itself; otherwise the private key, PKCS#8 PEM. */
  secret: string
  /** The public JWK (RFC 7517) with kid, alg and use; null for HS256. */
  publicJwk: Record<string, unknown> | null
}

const generate = promisify(generateKeyPair) as (type: 'ed25519' | 'ec' | 'rsa', options?: object) => Promise<{ privateKey: KeyObject, publicKey: KeyObject }>

const b64url = (data: string | Buffer): string => createHash('sha256').update(data).digest('base64url')

/**
 * The kid of an HS256 secret: a hash of it, so that the same secret always has
 * the same kid (an explicit JWT_SECRET, on every instance, across restarts).
 * It tells nothing an HS256 token does not: the token is itself an HMAC.
 */
export function secretKid (secret: string): string {
  return `hs-${b64url(`auth-service kid\0${secret}`).slice(0, 22)}`
}

/** RFC 7638 JWK thumbprint: the kid of an asymmetric key, the same wherever it is computed. */
export function thumbprint (jwk: Record<string, unknown>): string {
  const members = jwk.kty === 'RSA' ? ['e', 'kty', 'n'] : jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['crv', 'kty', 'x']
  return b64url(JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]]))))
}

/** The algorithm a private key is for, or a sentence saying why it cannot sign. */
export function algorithmOf (key: KeyObject): Algorithm | string {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA'
  if (key.asymmetricKeyType === 'ec') {
    return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ES256' : `is an EC key on ${key.asymmetricKeyDetails?.namedCurve ?? 'an unknown curve'}; ES256 needs P-256`
  }
  if (key.asymmetricKeyType === 'rsa') {
    return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? 'RS256' : 'is an RSA key shorter than 2048 bits'
  }
  return `is a ${key.asymmetricKeyType ?? 'symmetric'} key; EdDSA (Ed25519), ES256 (P-256) or RS256 (RSA) keys are supported`
}

/** Material from a PEM private key; throws a one-line Error when it cannot sign with `algorithm`. */
export function fromPrivateKeyPem (pem: string, algorithm: Algorithm): KeyMaterial {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (err) {
    throw new Error(`holds no PEM private key (${(err as Error).message})`)
  }
  const found = algorithmOf(key)
  if (found !== algorithm) {
    throw new Error(ALGORITHMS.includes(found as Algorithm) ? `holds a key for ${found}, but JWT_ALGORITHM is ${algorithm}` : found)
  }
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as Record<string, unknown>
  const kid = thumbprint(jwk)
  return {
    kid,
    algorithm,
    secret: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: { ...jwk, kid, alg: algorithm, use: 'sig' }
  }
}

/** Material for an HS256 secret. */
export function fromSecret (secret: string): KeyMaterial {
  return { kid: secretKid(secret), algorithm: 'HS256', secret, publicJwk: null }
}

/** A new random key (node:crypto; RSA generation runs off the event loop). */
export async function generateKey (algorithm: Algorithm): Promise<KeyMaterial> {
  if (algorithm === 'HS256') return fromSecret(randomBytes(48).toString('base64url'))
  const pair = algorithm === 'EdDSA'
    ? await generate('ed25519')
    : algorithm === 'ES256'
      ? await generate('ec', { namedCurve: 'P-256' })
      : await generate('rsa', { modulusLength: 2048 })
  return fromPrivateKeyPem(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm)
}
