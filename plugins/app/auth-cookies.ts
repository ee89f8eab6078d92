import cluster from 'node:cluster'
import { timingSafeEqual } from 'node:crypto'
import type { CookieSerializeOptions } from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { plainHttpCookieWarning } from '../../src/config.js'
import { CsrfFailedError } from '../../src/errors.js'
import { pooledRandomBytes } from '../../src/crypto/random.js'
import type { TokenPair } from '../../src/tokens/claims.js'

declare module 'fastify' {
  interface FastifyReply {
    /** Sets access_token, refresh_token (both HttpOnly) and a fresh csrf_token. */
    setAuthCookies: (pair: TokenPair) => FastifyReply
    /** Expires the three cookies (Max-Age=0). */
    clearAuthCookies: () => FastifyReply
  }
  interface FastifyInstance {
    /** Double-submit check: X-CSRF-Token must equal the csrf_token cookie. Throws CSRF_FAILED. */
    assertCsrf: (request: FastifyRequest) => void
  }
}

export const ACCESS_COOKIE = 'access_token'
export const REFRESH_COOKIE = 'refresh_token'
export const CSRF_COOKIE = 'csrf_token'
export const CSRF_HEADER = 'x-csrf-token'

export default fp(async (app) => {
  const { cookieSecure, cookieSameSite, accessTokenLifetime, refreshTokenLifetime } = app.config
  // Once per start: under WORKERS the primary says it (src/cluster.ts), not each worker.
  const warning = plainHttpCookieWarning(app.config)
  if (warning !== undefined && !cluster.isWorker) {
    app.log.warn({ event: 'secure_cookies_over_http', publicUrl: app.config.publicUrl, cookieSecure }, warning)
  }
  const base: CookieSerializeOptions = { secure: cookieSecure, sameSite: cookieSameSite }
  const access: CookieSerializeOptions = { ...base, httpOnly: true, path: '/', maxAge: accessTokenLifetime }
  // Only the /account endpoints (refresh, logout) ever need the refresh token.
  const refresh: CookieSerializeOptions = { ...base, httpOnly: true, path: '/account', maxAge: refreshTokenLifetime }
  // Readable by the page's scripts, which echo it in X-CSRF-Token; it lives as
  // long as the refresh token so that a refresh can still be CSRF-checked.
  const csrf: CookieSerializeOptions = { ...base, httpOnly: false, path: '/', maxAge: refreshTokenLifetime }

  app.decorateReply('setAuthCookies', function (this: FastifyReply, pair: TokenPair) {
    const csrfValue = pooledRandomBytes(32).toString('base64url')
    // RFC 6749 §5.1: responses carrying tokens are never cached. The CSRF value
    // is also sent as a header: a page on another host (CORS_ORIGINS) cannot
    // read this host's cookies, only the headers CORS exposes to it.
    return this.header('cache-control', 'no-store')
      .header(CSRF_HEADER, csrfValue)
      .setCookie(ACCESS_COOKIE, pair.access, access)
      .setCookie(REFRESH_COOKIE, pair.refresh, refresh)
      .setCookie(CSRF_COOKIE, csrfValue, csrf)
  })

  app.decorateReply('clearAuthCookies', function (this: FastifyReply) {
    return this.setCookie(ACCESS_COOKIE, '', { ...access, maxAge: 0 })
      .setCookie(REFRESH_COOKIE, '', { ...refresh, maxAge: 0 })
      .setCookie(CSRF_COOKIE, '', { ...csrf, maxAge: 0 })
  })

  app.decorate('assertCsrf', (request: FastifyRequest) => {
    const header = request.headers[CSRF_HEADER]
    const cookie = request.cookies[CSRF_COOKIE]
    if (typeof header !== 'string' || cookie === undefined || header === '' ||
        Buffer.byteLength(header) !== Buffer.byteLength(cookie) ||
        !timingSafeEqual(Buffer.from(header), Buffer.from(cookie))) {
      throw new CsrfFailedError()
    }
  })
}, { name: 'auth-cookies', dependencies: ['@fastify/cookie'] })
