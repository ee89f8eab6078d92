import { createHash, randomBytes } from 'node:crypto'
import { aeadOpen, aeadSeal } from '../crypto/aead.js'

/*
 * What the callback needs of the sign-in it ends (state, nonce, PKCE
 * verifier, where to go next, the user linking), kept in the browser in a
 * cookie rather than in a process's memory, so that any instance can answer
 * the callback: sealed (AES-256-GCM, the key in the database shared by every
 * instance) so that it can be neither read nor forged, bound to the provider,
 * and dead after STATE_LIFETIME.
 */

export const STATE_COOKIE = 'social_state'
/** Seconds a sign-in may take at the provider. */
export const STATE_LIFETIME = 600
/** The service secret (Store.serviceSecrets) that seals the state cookie. */
export const STATE_KEY_NAME = 'social_state_key'

export interface SocialState {
  state: string
  nonce: string
  verifier: string
  /** A path of SOCIAL_REDIRECT_URL's origin, or '' for SOCIAL_REDIRECT_URL itself. */
  next: string
  /** The user linking the provider's account (?link=true), else undefined. */
  linkUserId?: string
  /** Unix seconds. */
  expiresAt: number
}

export function sealState (key: Buffer, provider: string, value: SocialState): string {
  return aeadSeal(key, JSON.stringify(value), Buffer.from(`social:${provider}`))
}

/** The state, or undefined when the cookie was not sealed here for this provider, or has expired. */
export function openState (key: Buffer, provider: string, sealed: string, nowSeconds: number): SocialState | undefined {
  const plain = aeadOpen(key, sealed, Buffer.from(`social:${provider}`))
  if (plain === undefined) return undefined
  let value: SocialState
  try { value = JSON.parse(plain) as SocialState } catch { return undefined }
  if (typeof value.expiresAt !== 'number' || value.expiresAt <= nowSeconds) return undefined
  return value
}

/**
 * `next` when it is a path to stay on SOCIAL_REDIRECT_URL's origin: it must
 * start with one `/` (not `//host` or `/\host`, which browsers read as
 * another host), and resolve to that origin. Otherwise undefined (refused).
 */
export function safeNext (redirectUrl: string, next: string): string | undefined {
  // Browsers drop tabs and newlines in URLs and read `\` as `/`: none of them is allowed.
  if (!next.startsWith('/') || next.startsWith('//') || next.includes('\\') || [...next].some((c) => c.charCodeAt(0) < 0x20 || c === '\u007f')) return undefined
  const base = new URL(redirectUrl)
  let url: URL
  try { url = new URL(next, base) } catch { return undefined }
  return url.origin === base.origin ? url.toString() : undefined
}

/** A new sign-in's state, nonce and PKCE verifier (RFC 7636: 43 characters of base64url), 256 random bits each. */
export function newChecks (): { state: string, nonce: string, verifier: string } {
  const random = (): string => randomBytes(32).toString('base64url')
  return { state: random(), nonce: random(), verifier: random() }
}

/** PKCE's S256 code challenge of a verifier. */
export const codeChallenge = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url')
