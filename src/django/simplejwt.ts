import { createHash } from 'node:crypto'
import { createVerifier } from 'fast-jwt'
import { KEY_HEADERS } from '../keys/keyring.js'
import type { NewRefreshToken, Store, User } from '../db/store.js'
import { EmailNotVerifiedError, TokenExpiredError, TokenInvalidError, TokenRevokedError } from '../errors.js'
import { IAT_LEEWAY, type TokenPair } from '../tokens/claims.js'

/**
 * SIMPLEJWT_COMPAT: a refresh token issued by a Django deployment running
 * djangorestframework-simplejwt (HS256 with its SIGNING_KEY, claims
 * `token_type`, `exp`, `iat`, `jti`, `user_id` = Django's user id) is accepted
 * once at /account/token/refresh and exchanged for this service's pair: the
 * clients that were logged in stay logged in through the switch.
 *
 * It is checked here, with a verifier of its own for the Django key (HS256
 * only; SIMPLEJWT_SIGNING_KEY), independently of how this service signs its
 * own tokens: the service's own key need not be Django's SECRET_KEY.
 */

interface SimplejwtClaims { token_type: string, jti: string, exp: number, iat: number, user_id: number | string }

function invalid (why = 'Token is invalid.'): never {
  throw new TokenInvalidError(why)
}

function decodePart (part: string | undefined): unknown {
  try {
    return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
}

/** The stored key of an exchanged token: SHA-256 of its jti (the token itself is never stored). */
export function legacyTokenKey (jti: string): string {
  return createHash('sha256').update(`simplejwt:${jti}`).digest('base64url')
}

export interface SimplejwtExchangeOptions {
  /** The Django deployment's SIGNING_KEY (SIMPLEJWT_SIGNING_KEY, else JWT_SECRET). */
  secret: string
  store: Store
  /** EMAIL_VERIFICATION=mandatory: an unverified user's token is EMAIL_NOT_VERIFIED, as this service's own refresh. */
  requireVerifiedEmail?: boolean
  nowMs?: () => number
}

export function createSimplejwtExchange ({ secret, store, requireVerifiedEmail = false, nowMs = Date.now }: SimplejwtExchangeOptions) {
  // The form, the algorithm (HS256: `none` and every other one refused) and the
  // signature. Expiry is left to `verify`, after the claims: a token of the
  // wrong type is TOKEN_INVALID whether or not it has expired, as before
  // (simplejwt tokens carry no `nbf`, which is not read either).
  const verifySigned = createVerifier({ key: secret, algorithms: ['HS256'], complete: true, ignoreExpiration: true, ignoreNotBefore: true, cache: false })

  /** Signature, algorithm and claims; throws the contract's token errors. */
  function verify (token: string, { ignoreExpiration = false } = {}): SimplejwtClaims {
    let decoded: { header: Record<string, unknown>, payload: unknown }
    try {
      decoded = verifySigned(token) as typeof decoded
    } catch {
      invalid()
    }
    // A `crit` header names an extension nobody here understands (RFC 7515
    // §4.1.11): refused whatever its value (fast-jwt lets a falsy one pass).
    // Key-carrying headers (jku, jwk, x5u, x5c) are refused as on the
    // service's own tokens: a key is never taken from the token.
    if ('crit' in decoded.header || KEY_HEADERS.some((name) => name in decoded.header)) invalid()
    const c = decoded.payload as Partial<SimplejwtClaims>
    if (c.token_type !== 'refresh') invalid('Token has wrong type: expected a refresh token.')
    if (typeof c.jti !== 'string' || c.jti === '') invalid('Token has no id.')
    if (typeof c.exp !== 'number' || typeof c.iat !== 'number' || !Number.isFinite(c.exp) || !Number.isFinite(c.iat)) invalid('Token has no valid lifetime.')
    if (typeof c.user_id !== 'number' && typeof c.user_id !== 'string') invalid('Token has no valid subject.')
    const seconds = Math.floor(nowMs() / 1000)
    if (c.exp <= seconds && !ignoreExpiration) throw new TokenExpiredError()
    if (c.iat > seconds + IAT_LEEWAY) invalid('Token was issued in the future.')
    return c as SimplejwtClaims
  }

  return {
    /**
     * True for a token shaped like simplejwt's (a `user_id` and no `sub`, which
     * every token of this service has). Only routes the token: nothing is trusted
     * before `exchange` has verified it.
     */
    recognises (token: string): boolean {
      const payload = decodePart(token.split('.')[1]) as Record<string, unknown> | undefined
      return payload !== null && typeof payload === 'object' && !('sub' in payload) && 'user_id' in payload
    },

    /**
     * Verifies the simplejwt refresh token and, the first time it is presented,
     * starts a new login for the imported user whose `legacy_id` is its
     * `user_id`. A second presentation is TOKEN_REVOKED and ends the login the
     * first one started (one of the two presenters holds a stolen copy). A
     * token issued at or before the user's `tokensValidAfter` (a password
     * change, a reset or "log out everywhere" here) is TOKEN_REVOKED; with
     * `requireVerifiedEmail`, an unverified user's is EMAIL_NOT_VERIFIED. Neither
     * uses the token up.
     */
    async exchange (token: string, newLogin: (user: User) => { pair: TokenPair, row: NewRefreshToken }): Promise<TokenPair> {
      const claims = verify(token)
      const user = await store.users.byLegacyId(String(claims.user_id))
      if (user === undefined || !user.isActive) invalid('User not found or inactive.')
      // Issued before the user's password changed here, or before "log out
      // everywhere": it belongs to a session the user has ended.
      // tokensValidAfter is in milliseconds, a simplejwt `iat` in seconds.
      if (user.tokensValidAfter > 0 && claims.iat * 1000 <= user.tokensValidAfter) throw new TokenRevokedError()
      if (requireVerifiedEmail && !user.emailVerified) throw new EmailNotVerifiedError()
      const { pair, row } = newLogin(user)
      const outcome = await store.legacyTokens.exchange(legacyTokenKey(claims.jti), claims.exp, row, Math.floor(nowMs() / 1000))
      if (outcome === 'reused') throw new TokenRevokedError()
      return pair
    },

    /**
     * Logout with a (genuine) simplejwt refresh token, as simplejwt's blacklist
     * view would: it can no longer be exchanged. Expired or unknown-user tokens
     * are accepted and change nothing, as logout is idempotent.
     */
    async logout (token: string): Promise<void> {
      const claims = verify(token, { ignoreExpiration: true })
      if (claims.exp <= Math.floor(nowMs() / 1000)) return
      const user = await store.users.byLegacyId(String(claims.user_id))
      if (user !== undefined) await store.legacyTokens.retire(legacyTokenKey(claims.jti), user.id, claims.exp)
    }
  }
}

export type SimplejwtExchange = ReturnType<typeof createSimplejwtExchange>
