import fp from 'fastify-plugin'
import { API_PATHS, apiSecurityHeaders, securityHeaders } from '../../src/security-headers.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The security headers of the route's answers, chosen when it is added. */
    securityHeaders?: Record<string, string>
  }
}

// Registered by src/app.ts before every autoloaded folder, so that the routes
// and hooks of packages inherit it; the folder's autoload skips this file.
export const autoload = false

// Security headers on every response, computed once from the config
// (src/security-headers.ts) and set by one hook: the API's six on the JSON
// routes, helmet's whole set on the pages (the client page, its files, /docs)
// and on answers without a route (404). (@fastify/helmet rebuilt helmet's
// middleware for every request: a tenth of a /health request's CPU.)
export default fp(async (app) => {
  const page = securityHeaders(app.config)
  const api = apiSecurityHeaders(app.config)
  // Each route's set, chosen once when it is added.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, securityHeaders: API_PATHS.test(route.url) ? api : page }
  })
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(request.routeOptions.config.securityHeaders ?? page)
    done()
  })
}, { name: 'helmet' })
