import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

// Security headers on every response. The client page at `/` loads only its own
// script and stylesheet, so the default CSP (self only) fits it.
export const autoConfig = (app: FastifyInstance): HelmetOptions => ({
  // An auth API is never framed, and its answers never cached.
  frameguard: { action: 'deny' },
  // Plain-http deployments (COOKIE_SECURE=false) must not ask browsers to fetch
  // the page's own script over https, which is not there (localhost is exempt).
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: app.config.cookieSecure ? [] : null } }
})

/**
 * The headers helmet sets for `options`. They depend on the options alone (no
 * CSP nonces, no per-request directives), so they are computed once, at start.
 */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: unknown) { headers[name.toLowerCase()] = String(value) },
    removeHeader (name: string) { Reflect.deleteProperty(headers, name.toLowerCase()) }
  }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err !== undefined && err !== null) throw err
  })
  return headers
}

// helmet itself, with its headers set by one hook. (@fastify/helmet rebuilt
// helmet's middleware for every request: a tenth of a /health request's CPU.)
export default fp(async (app, options: HelmetOptions & { config?: unknown }) => {
  // Autoload also passes the service config along; helmet only gets its own options.
  const { config: _config, ...helmetOptions } = options
  const headers = helmetHeaders(helmetOptions)
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(headers)
    done()
  })
}, { name: 'helmet' })
