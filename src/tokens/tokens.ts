import { createHash, randomUUID } from 'node:crypto'
import type { NewRefreshToken, PurgeCounts, RotationSuccessor, Store, User } from '../db/store.js'
import type { Keyring } from '../keys/keyring.js'
import { EmailNotVerifiedError, TokenInvalidError, TokenRevokedError } from '../errors.js'
import { IAT_LEEWAY, type Claims, type TokenPair, type TokenType } from './claims.js'
import { issuedAtMs, uuidV7 } from './issue-time.js'
import { openSuccessor, sealSuccessor } from './refresh-grace.js'
import { USER_AGENT_MAX, type LoginContext } from '../sessions/sessions.js'

/**
 * Signs and checks JWTs. `verify` throws TokenExpiredError for a past `exp`
 * and TokenInvalidError for anything else wrong (signature, algorithm, kid,
 * shape). The HTTP layer provides it on top of the keyring (src/keys/).
 */
export interface TokenCodec {
  /** Access tokens by the signing key (`typ: at+jwt`), refresh tokens by the service's own key (`typ: refresh+jwt`). */
  sign: (claims: Claims) => string
  /** `use`: the type the caller expects; a token whose header says the other type is refused. */
  verify: (token: string, options?: { ignoreExpiration?: boolean, use?: TokenType }) => unknown
}

/** The codec of a keyring: the server's (plugins/app/tokens.ts) and the command line's alike. */
export function tokenCodec (keys: Pick<Keyring, 'sign' | 'signRefresh' | 'verifyNow'>): TokenCodec {
  return {
    // Refresh tokens with the service's unpublished refresh key: no holder of
    // the public keys can verify one (src/keys/keyring.ts).
    sign: (claims) => claims.token_type === 'refresh' ? keys.signRefresh(claims) : keys.sign(claims),
    verify: (token, options) => keys.verifyNow(token, options)
  }
}

/** Security events worth a log line (and a metric); never a token. */
export interface TokenEvent {
  event: 'refresh_grace_replay' | 'refresh_reuse_detected'
  userId: string
}

export interface TokenServiceOptions {
  codec: TokenCodec
  store: Store
  accessLifetime: number
  refreshLifetime: number
  /**
   * Seconds after a rotation during which the rotated refresh token, presented
   * again, gets the same successor back instead of being taken as stolen
   * (REFRESH_REUSE_INTERVAL); 0 = off, every replay is theft.
   */
  reuseInterval?: number
  /** EMAIL_VERIFICATION=mandatory: a refresh for a user whose address is not verified is refused. */
  requireVerifiedEmail?: boolean
  /** JWT_ISSUER: the `iss` of access tokens, required of every access token presented. */
  issuer?: string | undefined
  /** JWT_AUDIENCE: the `aud` of access tokens, required of every access token presented. */
  audience?: string | undefined
  /** Milliseconds since the epoch; injectable for tests. */
  nowMs?: () => number
  /** Told of grace replays and detected reuse (the HTTP layer logs them). */
  onEvent?: (event: TokenEvent) => void
}

/** The stored key of a refresh token: SHA-256 of its jti. */
export function refreshTokenKey (jti: string): string {
  return createHash('sha256').update(jti).digest('base64url')
}

type MaybePromise<T> = T | Promise<T>

/** Whom tokens are issued to: the user's row, or the parts of it a token needs. */
type Issuable = Pick<User, 'id' | 'email'> & { tokensValidAfter?: number }

/** `f(value)`, at once for a value, after it for a promise: no promise made where none is needed. */
function then<T, U> (value: MaybePromise<T>, f: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(f) : f(value)
}

function invalid (why: string): never {
  throw new TokenInvalidError(why)
}

/** Checks that a verified payload has exactly the claims the contract promises. */
function asClaims (payload: unknown, expected: TokenType | undefined): Claims {
  const c = payload as Partial<Claims> | null
  if (c === null || typeof c !== 'object') invalid('Token is invalid.')
  if (c.token_type !== 'access' && c.token_type !== 'refresh') invalid('Token has no valid type.')
  if (expected !== undefined && c.token_type !== expected) invalid(`Token has wrong type: expected ${expected === 'access' ? 'an access' : 'a refresh'} token.`)
  if (typeof c.jti !== 'string' || c.jti === '') invalid('Token has no id.')
  if (typeof c.sub !== 'string' || c.sub === '' || c.user_id !== c.sub) invalid('Token has no valid subject.')
  if (c.sid !== undefined && (typeof c.sid !== 'string' || c.sid === '')) invalid('Token has no valid session.')
  // Finite: a claim such as 1e400 parses to Infinity (a token that never expires).
  if (typeof c.exp !== 'number' || typeof c.iat !== 'number' || !Number.isFinite(c.exp) || !Number.isFinite(c.iat)) invalid('Token has no valid lifetime.')
  return c as Claims
}

export function createTokenService ({ codec, store, accessLifetime, refreshLifetime, reuseInterval = 0, requireVerifiedEmail = false, issuer, audience, nowMs = Date.now, onEvent }: TokenServiceOptions) {
  const seconds = (): number => Math.floor(nowMs() / 1000)
  /** What access tokens say of who issued them and for whom (RFC 9068 §2.2), when configured. */
  const scope = { ...(issuer === undefined ? {} : { iss: issuer }), ...(audience === undefined ? {} : { aud: audience }) }

  function checked (payload: unknown, expected: TokenType | undefined): Claims {
    const claims = asClaims(payload, expected)
    if (claims.iat > seconds() + IAT_LEEWAY) invalid('Token was issued in the future.')
    if (claims.token_type === 'access') {
      if (issuer !== undefined && claims.iss !== issuer) invalid('Token has a wrong issuer.')
      if (audience !== undefined && claims.aud !== audience && !(Array.isArray(claims.aud) && claims.aud.includes(audience))) invalid('Token is not meant for this audience.')
    }
    return claims
  }

  /** The checked claims; without a promise when the codec answers at once (a remembered token). */
  function decodeNow (token: string, expected?: TokenType, options?: { ignoreExpiration?: boolean }): MaybePromise<Claims> {
    return then(codec.verify(token, { ...options, use: expected }), (payload) => checked(payload, expected))
  }

  function live (user: User | undefined): User {
    if (user === undefined || !user.isActive) invalid('User not found or inactive.')
    return user
  }

  /**
   * The token's user, who must exist and be active, and for an access token
   * must not have revoked it since (a password change or reset, "log out
   * everywhere", a deactivation: `tokensValidAfter`, compared with the
   * token's issue instant in milliseconds). Checked on every use, a token
   * the keyring remembers included. Without a promise when the store can
   * answer at once.
   */
  function activeUserNow (claims: Claims): MaybePromise<User> {
    // An access token of an ended session (logout, DELETE /account/sessions/<id>,
    // reuse): refused at once, from the store's denylist in memory. A refresh
    // token of one is revoked already.
    const sid = claims.token_type === 'access' ? claims.sid : undefined
    if (sid !== undefined) {
      const ended = store.sessions.endedNow(sid)
      if (ended === true) throw new TokenRevokedError()
      if (ended instanceof Promise) return ended.then((yes) => { if (yes) throw new TokenRevokedError(); return liveUserNow(claims) })
    }
    return liveUserNow(claims)
  }

  function liveUserNow (claims: Claims): MaybePromise<User> {
    const current = (user: User | undefined): User => {
      const found = live(user)
      if (found.tokensValidAfter > 0 && claims.token_type === 'access' && issuedAtMs(claims) < found.tokensValidAfter) throw new TokenRevokedError()
      return found
    }
    return store.users.byIdNow === undefined ? store.users.byId(claims.sub).then(current) : current(store.users.byIdNow(claims.sub))
  }

  async function notRevoked (claims: Claims): Promise<Claims> {
    const row = await store.refreshTokens.byId(refreshTokenKey(claims.jti))
    if (row === undefined) invalid('Token is not known.')
    if (row.revokedAt !== null) throw new TokenRevokedError()
    return claims
  }

  /**
   * An access token issued at `ms` (milliseconds): its jti carries that
   * instant (src/tokens/issue-time.ts). Never before the user's
   * `tokensValidAfter`: an instance whose clock lags the one that recorded a
   * revocation (by milliseconds) would otherwise mint tokens refused at once.
   * `lifetime`: ACCESS_TOKEN_LIFETIME unless the operators' `tokens issue` says otherwise.
   * `sid`: its session (absent for a family that has none: tokens issued before sessions existed).
   */
  function accessClaims (user: Issuable, ms: number, lifetime = accessLifetime, sid?: string): Claims {
    const at = Math.max(ms, user.tokensValidAfter ?? 0)
    const iat = Math.floor(at / 1000)
    return { token_type: 'access', jti: uuidV7(at), iat, sub: user.id, user_id: user.id, exp: iat + lifetime, email: user.email, ...scope, ...(sid === undefined ? {} : { sid }) }
  }

  /**
   * Signs a pair issued at `ms` (now by default), and the row of its refresh
   * token without a family: a rotation puts it in the presented token's (the
   * store does), a login starts one.
   */
  function mint (user: Issuable, ms = nowMs(), accessTokenLifetime?: number, sid?: string): { pair: TokenPair, row: Required<RotationSuccessor> } {
    const iat = Math.floor(ms / 1000)
    const refreshJti = randomUUID()
    const access = accessClaims(user, ms, accessTokenLifetime, sid)
    const pair: TokenPair = {
      access: codec.sign(access),
      // The refresh token carries its session too: a rotation signs the
      // successor's access token with it, before (and without) any read.
      refresh: codec.sign({ token_type: 'refresh', jti: refreshJti, iat, sub: user.id, user_id: user.id, exp: iat + refreshLifetime, ...(sid === undefined ? {} : { sid }) })
    }
    // A replay in the grace window signs one more access token, up to
    // `reuseInterval` later: the session's denylist entry outlives it too.
    const row = { id: refreshTokenKey(refreshJti), userId: user.id, expiresAt: iat + refreshLifetime, createdAt: iat, accessExpiresAt: access.exp + reuseInterval }
    return { pair, row }
  }

  /**
   * A pair that starts a new login (a fresh token family), issued at `ms`
   * (now by default): an operation that revokes the earlier tokens passes
   * the instant it records, so that its own pair is not refused.
   * `accessLifetime` overrides ACCESS_TOKEN_LIFETIME for this access token
   * only (the operators' `tokens issue`); later refreshes get the usual one.
   * `session`: where the login comes from, stored as its session (by default
   * a password login whose request is not known).
   */
  function newLogin (user: Issuable, ms?: number, options?: { accessLifetime?: number, session?: LoginContext }): { pair: TokenPair, row: NewRefreshToken } {
    // A UUID version 7: sessions of one second list in the order they started
    // (Store.sessions.byUser sorts by created_at, then id).
    const at = ms ?? nowMs()
    const familyId = uuidV7(at)
    const { pair, row: { accessExpiresAt, ...row } } = mint(user, at, options?.accessLifetime, familyId)
    const { method, userAgent, ip } = options?.session ?? { method: 'password', userAgent: null, ip: null }
    return { pair, row: { ...row, familyId, session: { method, userAgent: userAgent?.slice(0, USER_AGENT_MAX) ?? null, ip, accessExpiresAt } } }
  }

  return {

    /**
     * A new login (a fresh token family): the pair, and the row the caller
     * stores in the same transaction as the login itself (Store.users.create's
     * `firstToken` for a join, Store.users.recordLogin's `token` for a login).
     */
    newLogin,

    /**
     * Password change: every earlier refresh token of the user is revoked,
     * every access token issued before this instant refused, and one new
     * login started at that instant.
     */
    async reissueAfterPasswordChange (user: User, passwordHash: string, session?: LoginContext): Promise<TokenPair> {
      const at = nowMs()
      const { pair, row } = newLogin(user, at, { session })
      await store.users.setPassword(user.id, passwordHash, Math.floor(at / 1000), row, at)
      return pair
    },

    /**
     * The user behind a request's access token, given its payload once its
     * signature and expiry are verified (by @fastify/jwt with the keyring's
     * keys, plugins/app/authenticate.ts): the claims are checked as for every
     * token, and inactive or deleted users refused. Answered without a promise
     * when the store has the user in memory: most authenticated requests.
     * Throws, or rejects, TokenInvalidError.
     */
    accessTokenUser (payload: unknown): MaybePromise<User> {
      return activeUserNow(checked(payload, 'access'))
    },

    /**
     * Rotation: the presented refresh token is revoked and a successor in the
     * same family returned. A token presented after it was revoked is treated
     * as stolen: its family is revoked and TOKEN_REVOKED thrown — except inside
     * the grace window (`reuseInterval`): a token rotated less than that long
     * ago whose successor is still the family's live token gets that same
     * successor back (byte for byte) with a fresh access token, and nothing is
     * written (a family never has two live refresh tokens).
     */
    async refresh (refreshToken: string): Promise<TokenPair> {
      const claims = await decodeNow(refreshToken, 'refresh')
      const user = await activeUserNow(claims)
      if (requireVerifiedEmail && !user.emailVerified) throw new EmailNotVerifiedError()
      const key = refreshTokenKey(claims.jti)
      // The successor's family is the presented token's: the store puts it
      // there (no read before the rotation, which decides everything at once).
      const { pair, row } = mint(user, undefined, undefined, claims.sid)
      const grace = reuseInterval > 0 ? { interval: reuseInterval, sealed: sealSuccessor(claims.jti, key, row.id, pair.refresh) } : undefined
      const outcome = await store.refreshTokens.rotate(key, row, seconds(), grace)
      switch (outcome.kind) {
        case 'rotated':
          return pair
        case 'replayed': {
          const successorToken = openSuccessor(claims.jti, key, outcome.successorId, outcome.sealed)
          if (successorToken === undefined) {
            // Only a tampered row gets here: no grace without the genuine successor.
            const current = await store.refreshTokens.byId(key)
            if (current !== undefined) await store.refreshTokens.revokeFamily(current.userId, current.familyId, seconds(), 'reuse')
            onEvent?.({ event: 'refresh_reuse_detected', userId: user.id })
            throw new TokenRevokedError()
          }
          onEvent?.({ event: 'refresh_grace_replay', userId: user.id })
          return { access: codec.sign(accessClaims(user, nowMs(), undefined, claims.sid)), refresh: successorToken }
        }
        case 'reused':
          onEvent?.({ event: 'refresh_reuse_detected', userId: user.id })
          throw new TokenRevokedError()
        case 'unknown':
          invalid('Token is not known.')
      }
    },

    /**
     * Token verification for gateways: either type, live user, refresh tokens
     * not revoked. Like `accessTokenUser`, without a promise for a remembered
     * access token whose user is in memory.
     */
    verify (token: string): MaybePromise<Claims> {
      return then(decodeNow(token), (claims) => then(activeUserNow(claims), () => claims.token_type === 'refresh' ? notRevoked(claims) : claims))
    },

    /**
     * Logout: revokes the login (family) of a refresh token. Idempotent: an
     * already revoked or expired (but genuine) token still ends its family.
     */
    async logout (refreshToken: string): Promise<void> {
      const claims = await decodeNow(refreshToken, 'refresh', { ignoreExpiration: true })
      const row = await store.refreshTokens.byId(refreshTokenKey(claims.jti))
      if (row !== undefined) await store.refreshTokens.revokeFamily(row.userId, row.familyId, seconds(), 'logout')
    },

    /** Every refresh token of the user revoked, and every access token issued before now refused. */
    async logoutEverywhere (userId: string): Promise<number> {
      const at = nowMs()
      return await store.refreshTokens.revokeUser(userId, Math.floor(at / 1000), 'logout_all', at)
    },

    /** Expired refresh tokens (revoked ones too, once expired) and the store's expired legacy-token rows (PurgeCounts). */
    async purge (): Promise<PurgeCounts> {
      return await store.refreshTokens.purge(seconds())
    }
  }
}

export type TokenService = ReturnType<typeof createTokenService>
