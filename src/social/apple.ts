import { createPrivateKey, sign } from 'node:crypto'
import type { OidcProviderConfig } from './config.js'

/** How long an Apple client secret is valid (Apple accepts up to six months; a short one limits a leak). */
const LIFETIME = 86400

/**
 * Sign in with Apple's client secret: an ES256 JWT from the team, signed with
 * the key made in Apple's developer console (node:crypto: `ieee-p1363` is the
 * JWS signature encoding of ES256).
 */
export function appleClientSecret (clientId: string, apple: NonNullable<OidcProviderConfig['apple']>, nowMs: number): string {
  const now = Math.floor(nowMs / 1000)
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const input = `${encode({ alg: 'ES256', kid: apple.keyId, typ: 'JWT' })}.${encode({ iss: apple.teamId, iat: now, exp: now + LIFETIME, aud: 'https://appleid.apple.com', sub: clientId })}`
  const signature = sign('sha256', Buffer.from(input), { key: createPrivateKey(apple.privateKeyPem), dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}
