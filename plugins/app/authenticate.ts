import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { User } from '../../src/db/store.js'
import { TokenInvalidError, TokenMissingError } from '../../src/errors.js'
import type { Claims } from '../../src/tokens/tokens.js'
import { ACCESS_COOKIE, REFRESH_COOKIE } from './auth-cookies.js'

declare module '@fastify/jwt' {
  interface FastifyJWT { payload: Claims, user: User }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: sets `request.user` from the access token, or throws a 401. */
    authenticate: (request: FastifyRequest) => Promise<void>
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
    forwardAuth: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>
    /** The refresh token of a refresh/logout request: body first, else the cookie (CSRF-checked). */
    presentedRefreshToken: (request: FastifyRequest) => string | undefined
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i
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

  app.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    const { token, byCookie } = app.presentedAccessToken(request)
    // The cookie is sent by the browser on its own: unsafe methods need the CSRF check.
    if (byCookie && !SAFE_METHODS.has(request.method)) app.assertCsrf(request)
    request.user = (await app.tokens.authenticate(token)).user
  })

  app.decorate('forwardAuth', async function forwardAuth (request: FastifyRequest, reply: FastifyReply) {
    const { user } = await app.tokens.authenticate(app.presentedAccessToken(request).token)
    return await reply.header('cache-control', 'no-store')
      .header('x-auth-user-id', user.id).header('x-auth-user-email', user.email)
      .send({})
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
