import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { User } from '../../src/db/store.js'
import { TokenMissingError } from '../../src/errors.js'
import type { Claims } from '../../src/tokens.js'
import { ACCESS_COOKIE, REFRESH_COOKIE } from './auth-cookies.js'

declare module '@fastify/jwt' {
  interface FastifyJWT { payload: Claims, user: User }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: sets `request.user` from the access token, or throws a 401. */
    authenticate: (request: FastifyRequest) => Promise<void>
    /** The refresh token of a refresh/logout request: body first, else the cookie (CSRF-checked). */
    presentedRefreshToken: (request: FastifyRequest) => string | undefined
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export default fp(async (app) => {
  app.decorate('authenticate', async function authenticate (request: FastifyRequest) {
    // A Bearer header wins; otherwise the access_token cookie, which (being sent
    // by the browser on its own) needs the CSRF check on unsafe methods.
    let token = BEARER.exec(request.headers.authorization ?? '')?.[1]
    if (token === undefined) {
      token = request.cookies[ACCESS_COOKIE]
      if (token === undefined || token === '') throw new TokenMissingError()
      if (!SAFE_METHODS.has(request.method)) app.assertCsrf(request)
    }
    request.user = (await app.tokens.authenticate(token)).user
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
