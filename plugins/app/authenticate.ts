import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { User } from '../../src/db/store.js'
import { TokenInvalidError, TokenMissingError } from '../../src/errors.js'
import type { Claims } from '../../src/tokens/claims.js'
import { ACCESS_COOKIE, REFRESH_COOKIE } from './auth-cookies.js'

declare module '@fastify/jwt' {
  interface FastifyJWT { payload: Claims, user: User }
}

declare module 'fastify' {
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
     * The access token of a request: the Bearer header, else the access_token
     * cookie (`byCookie`). Throws TOKEN_MISSING when there is neither, and
     * TOKEN_INVALID for a header that says Bearer without exactly one credential.
     */
    presentedAccessToken: (request: FastifyRequest) => { token: string, byCookie: boolean }
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

export default fp(async (app) => {
  app.decorate('presentedAccessToken', (request: FastifyRequest) => {
    // A Bearer header wins; otherwise the access_token cookie. A header that
    // says Bearer but does not carry exactly one credential is a malformed
    // credential (TOKEN_INVALID, as simplejwt refuses it), not an absent one;
    // any other scheme (Basic, …) is not ours and is ignored.
    const header = request.headers.authorization ?? ''
    const token = BEARER.exec(header)?.[1]
    if (token !== undefined) return { token, byCookie: false }
    if (SAYS_BEARER.test(header)) throw new TokenInvalidError('Authorization header must be "Bearer" followed by exactly one token.')
    const cookie = request.cookies[ACCESS_COOKIE]
    if (cookie === undefined || cookie === '') throw new TokenMissingError()
    return { token: cookie, byCookie: true }
  })

  /** The user behind the request's access token, at once or later; throws for a missing or malformed one. */
  const userOf = (request: FastifyRequest): ReturnType<typeof app.tokens.authenticate> => {
    const { token, byCookie } = app.presentedAccessToken(request)
    // The cookie is sent by the browser on its own: unsafe methods need the CSRF check.
    if (byCookie && !SAFE_METHODS.has(request.method)) app.assertCsrf(request)
    return app.tokens.authenticate(token)
  }

  type Found = ReturnType<typeof app.tokens.authenticate>
  type Done = (err?: Error) => void
  type Use = (request: FastifyRequest, reply: FastifyReply, user: User, done: Done) => void

  /**
   * Calls `use` with the user `find` names for the request: at once when it is
   * at hand, after its promise otherwise. A throw or a rejection goes to the
   * hook's `done`. `find` and `use` are made once, not per request.
   */
  const withUser = (request: FastifyRequest, reply: FastifyReply, done: Done, find: (request: FastifyRequest) => Found, use: Use): void => {
    let found: Found
    try {
      found = find(request)
    } catch (err) {
      done(err as Error)
      return
    }
    if (found instanceof Promise) found.then(({ user }) => { use(request, reply, user, done) }, done)
    else use(request, reply, found.user, done)
  }

  const setUser: Use = (request, _reply, user, done) => {
    request.user = user
    done()
  }
  app.decorate('authenticate', function authenticate (request: FastifyRequest, reply: FastifyReply, done: Done) {
    withUser(request, reply, done, userOf, setUser)
  })

  app.decorate('requireUser', async function requireUser (request: FastifyRequest) {
    request.user = (await userOf(request)).user
    return request.user
  })

  // Answered by the hook itself: the route's handler never runs.
  const bearerOrCookieUser = (request: FastifyRequest): Found => app.tokens.authenticate(app.presentedAccessToken(request).token)
  const answerForwardAuth: Use = (_request, reply, user) => {
    void reply.header('cache-control', 'no-store')
      .header('x-auth-user-id', user.id).header('x-auth-user-email', user.email)
      .send({})
  }
  app.decorate('forwardAuth', function forwardAuth (request: FastifyRequest, reply: FastifyReply, done: Done) {
    withUser(request, reply, done, bearerOrCookieUser, answerForwardAuth)
  })

  app.decorate('presentedRefreshToken', (request: FastifyRequest) => {
    const fromBody = (request.body as { refresh?: string } | undefined)?.refresh
    if (fromBody !== undefined) return fromBody
    const fromCookie = request.cookies[REFRESH_COOKIE]
    if (fromCookie === undefined || fromCookie === '') return undefined
    app.assertCsrf(request)
    return fromCookie
  })
}, { name: 'authenticate', dependencies: ['tokens', 'auth-cookies'] })
