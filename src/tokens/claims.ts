/*
 * What a token of this service says, shared by the token service, the keys,
 * the simplejwt exchange and the command line. A leaf: it imports nothing of
 * the service, so any of them may import it without a circle.
 */

export type TokenType = 'access' | 'refresh'

/** The claims of every token (docs/API.md, "Tokens"): `email` in access tokens only. */
export interface Claims {
  token_type: TokenType
  jti: string
  iat: number
  exp: number
  sub: string
  user_id: string
  email?: string
  /** JWT_ISSUER, in access tokens when it is set. */
  iss?: string
  /** JWT_AUDIENCE, in access tokens when it is set. */
  aud?: string | string[]
  /**
   * The session (refresh-token family) the token belongs to: refused once it
   * has ended. Absent from tokens issued before sessions existed.
   */
  sid?: string
}

export interface TokenPair { access: string, refresh: string }

/**
 * Seconds an `iat` may lie ahead of this clock (other instances' clocks). A
 * token issued later than that is refused, as PyJWT (simplejwt) does.
 */
export const IAT_LEEWAY = 30
