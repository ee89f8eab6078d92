import helmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'

// Security headers on every response. The client page at `/` loads only its own
// script and stylesheet, so the default CSP (self only) fits it.
export const autoConfig = (app: FastifyInstance): FastifyHelmetOptions => ({
  global: true,
  // An auth API is never framed, and its answers never cached.
  frameguard: { action: 'deny' },
  // Plain-http deployments (COOKIE_SECURE=false) must not ask browsers to fetch
  // the page's own script over https, which is not there (localhost is exempt).
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: app.config.cookieSecure ? [] : null } }
})

export default helmet
