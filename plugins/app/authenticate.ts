import type { TokenOrHeader, VerifyOptions } from '@fastify/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { User } from '../../src/db/store.js'
import { TokenExpiredError, TokenInvalidError, TokenMissingError } from '../../src/errors.js'
import type { Claims } from '../../src/tokens/claims.js'
import { ACCESS_COOKIE, REFRESH_COOKIE } from './auth-cookies.js'

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Claims
    /**
     * The request's user: @fastify/jwt puts the verified claims here, and the
     * hooks below replace them with the live user before any handler runs.
     */
    user: User
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The session (`sid`) of the request's access token, once authenticated; null for a token without one. */
    sessionId: string | null
  }
  interface FastifyInstance {
    /**
     * onRequest hook: sets `request.user` from the access token, or fails with
     * a 401. A callback hook: most requests are answered at once (the token's
     * verification remembered, the user in memory), with no promise made.
     */
    authenticate: (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void
    /**
     * For a handler that needs the user only sometimes (logout of every
     * login): the user behind the request's access token, checked as
     * `authenticate` checks it and set as `request.user`; rejects with a 401
     * (or CSRF_FAILED) otherwise.
     */
    requireUser: (request: FastifyRequest) => Promise<User>
    /**
     * onRequest hook answering a gateway's auth subrequest (nginx auth_request,
     * Traefik forwardAuth, Envoy ext_authz) before any body is read: 200 with
     * the user in X-Auth-User-Id / X-Auth-User-Email (never cached), or the 401.
     * No CSRF check: the answer is a read and grants nothing by itself.
     */
    forwardAuth: (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void
    /** The refresh token of a refresh/logout request: body first, else the cookie (CSRF-checked). */
    presentedRefreshToken: (request: FastifyRequest) => string | undefined
  }
}

/** `Authorization: Bearer <one credential>` (RFC 6750), the credential captured. */
export const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i
/** A header that says Bearer (case-insensitive, RFC 7235), whatever follows. */
const SAYS_BEARER = /^Bearer(?:[ \t]|$)/i
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * The access token of a request: the Bearer header, else the access_token
 * cookie (`byCookie`). A header that says Bearer but does not carry exactly
 * one credential is a malformed credential (TOKEN_INVALID, as simplejwt
 * refuses it), not an absent one; any other scheme (Basic, …) is not ours and
 * is ignored. Neither: TOKEN_MISSING. @fastify/jwt's `extractToken`
 * (plugins/external/jwt.ts).
 */
export function presentedAccessToken (request: FastifyRequest): { token: string, byCookie: boolean } {
  const header = request.headers.authorization ?? ''
  const token = BEARER.exec(header)?.[1]
  if (token !== undefined) return { token, byCookie: false }
  if (SAYS_BEARER.test(header)) throw new TokenInvalidError('Authorization header must be "Bearer" followed by exactly one token.')
  const cookie = request.cookies[ACCESS_COOKIE]
  if (cookie === undefined || cookie === '') throw new TokenMissingError()
  return { token: cookie, byCookie: true }
}

/**
 * Failures of the keyring itself while finding a token's key (its table
 * unreadable, a stored key that cannot be opened): not a verdict on the
 * token, so they reach the error handler as they are (a 503 for storage).
 */
const keyringFailures = new WeakSet<object>()

/**
 * @fastify/jwt's `secret` (plugins/external/jwt.ts): the key for a token, from
 * the keyring by the token's kid (src/keys/). Refused (TOKEN_INVALID) for an
 * unknown or malformed kid, an `alg` that is not that key's, or a `crit`
 * header, before any signature is checked. A key withdrawn (`keys revoke`) or
 * past its time is no longer found, so what its verifier remembered is never
 * reached again.
 */
export function keyOfToken (request: FastifyRequest, decoded: TokenOrHeader, cb: (err: Error | null, key: string | undefined) => void): void {
  const refused = (err: unknown): void => {
    if ((err as { code?: unknown } | null)?.code !== 'TOKEN_INVALID' && typeof err === 'object' && err !== null) keyringFailures.add(err)
    cb(err as Error, undefined)
  }
  let key: string | Promise<string>
  try {
    key = request.server.keys.keyFor((decoded as { header?: unknown }).header)
  } catch (err) {
    refused(err)
    return
  }
  if (typeof key === 'string') cb(null, key)
  else key.then((found) => { cb(null, found) }, refused)
}

/** @fastify/jwt's codes for "no token" and "expired" (fast-jwt's too); its other codes, and fast-jwt's, are TOKEN_INVALID. */
const NO_TOKEN = new Set(['FST_JWT_NO_AUTHORIZATION_IN_HEADER', 'FST_JWT_NO_AUTHORIZATION_IN_COOKIE', 'FST_JWT_BAD_REQUEST', 'FST_JWT_BAD_COOKIE_REQUEST'])
const EXPIRED = new Set(['FST_JWT_AUTHORIZATION_TOKEN_EXPIRED', 'FAST_JWT_EXPIRED'])
/** The contract's token errors (presentedAccessToken's, the keyring's): already in its words. */
const OURS = new Set(['TOKEN_MISSING', 'TOKEN_INVALID', 'TOKEN_EXPIRED'])

/**
 * What @fastify/jwt reports, as the contract's error: its codes (FST_JWT_…)
 * and fast-jwt's (FAST_JWT_…, or a plain error from an absurd claim such as
 * an `nbf` of 1e400) never reach a client. Every report is a verdict on the
 * token — TOKEN_MISSING, TOKEN_EXPIRED for a past `exp`, else TOKEN_INVALID —
 * except the keyring's own failures, which pass as they are.
 */
export function contractError (err: Error): Error {
  if (keyringFailures.has(err)) return err
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') {
    if (OURS.has(code)) return err
    if (EXPIRED.has(code)) return new TokenExpiredError()
    if (NO_TOKEN.has(code)) return new TokenMissingError()
  }
  return new TokenInvalidError('Token is invalid.')
}

// No options: @fastify/jwt then verifies with one verifier per key (kept by
// key), while any options object, even an empty one, makes it build a new
// verifier for every request.
const NO_OPTIONS = null as unknown as Partial<VerifyOptions>

type Done = (err?: Error) => void

export default fp(async (app) => {
  const { tokens } = app
  app.decorateRequest('sessionId', null)

  /** The live user behind a verified payload, as request.user; then `done()`, or `done(err)`. */
  const verified = (request: FastifyRequest, done: Done, err: Error | null, payload: unknown): void => {
    if (err !== null) {
      done(contractError(err))
      return
    }
    let user: User | Promise<User>
    try {
      user = tokens.accessTokenUser(payload)
    } catch (err) {
      done(err as Error)
      return
    }
    // Checked by accessTokenUser: a string when present.
    request.sessionId = (payload as Claims).sid ?? null
    if (user instanceof Promise) {
      user.then((found) => { request.user = found; done() }, done)
    } else {
      request.user = user
      done()
    }
  }

  /**
   * The request's access token, found by @fastify/jwt (presentedAccessToken's
   * rules), verified by it — its key picked by kid from the keyring — unless
   * the keyring remembers it verified; then the token service checks its
   * claims and user, and `done()` is called with the user in request.user, or
   * `done(err)` with the contract's error. Without a promise when both answer
   * at once (a remembered token, a user in memory: most requests).
   */
  const withUser = (request: FastifyRequest, done: Done): void => {
    let token: string
    try {
      token = app.jwt.lookupToken(request)
    } catch (err) {
      done(contractError(err as Error))
      return
    }
    const known = app.keys.remembered(token)
    if (known !== undefined) {
      verified(request, done, null, known)
      return
    }
    let inline = true
    let early: [Error | null, unknown] | undefined
    request.jwtVerify(NO_OPTIONS, (err, payload) => {
      if (err === null) app.keys.remember(token, payload)
      if (inline) early = [err, payload]
      // Answered later (an unknown kid made the keyring read the table): go on
      // in a turn of its own, outside @fastify/jwt's try/catch, which would
      // call back a second time with anything thrown further on.
      else process.nextTick(verified, request, done, err, payload)
    })
    inline = false
    if (early !== undefined) verified(request, done, early[0], early[1])
  }

  /** The cookie is sent by the browser on its own: unsafe methods need the CSRF check, before the token is read. */
  const assertCsrfIfCookie = (request: FastifyRequest): void => {
    if (!SAFE_METHODS.has(request.method) && presentedAccessToken(request).byCookie) app.assertCsrf(request)
  }

  app.decorate('authenticate', function authenticate (request: FastifyRequest, _reply: FastifyReply, done: Done) {
    try {
      assertCsrfIfCookie(request)
    } catch (err) {
      done(err as Error)
      return
    }
    withUser(request, done)
  })

  app.decorate('requireUser', async function requireUser (request: FastifyRequest) {
    assertCsrfIfCookie(request)
    await new Promise<void>((resolve, reject) => {
      withUser(request, (err) => { if (err === undefined) resolve(); else reject(err) })
    })
    return request.user
  })

  // Answered by the hook itself: the route's handler never runs.
  app.decorate('forwardAuth', function forwardAuth (request: FastifyRequest, reply: FastifyReply, done: Done) {
    withUser(request, (err) => {
      if (err !== undefined) {
        done(err)
        return
      }
      void reply.header('cache-control', 'no-store')
        .header('x-auth-user-id', request.user.id).header('x-auth-user-email', request.user.email)
        .send({})
    })
  })

  app.decorate('presentedRefreshToken', (request: FastifyRequest) => {
    const fromBody = (request.body as { refresh?: string } | undefined)?.refresh
    if (fromBody !== undefined) return fromBody
    const fromCookie = request.cookies[REFRESH_COOKIE]
    if (fromCookie === undefined || fromCookie === '') return undefined
    app.assertCsrf(request)
    return fromCookie
  })
}, { name: 'authenticate', dependencies: ['tokens', 'keys', 'auth-cookies', '@fastify/jwt'] })
