import fp from 'fastify-plugin'
import { API_PATHS, apiSecurityHeaders, securityHeaders } from '../../src/security-headers.js'

// Registered by src/app.ts before every autoloaded folder, so that the routes
// and hooks of packages inherit it; the folder's autoload skips this file.
export const autoload = false

// Security headers on every response, computed once from the config
// (src/security-headers.ts) and set by one hook: the API's six on the JSON
// API's paths, helmet's whole set on every other (the client page, its files,
// /docs, a 404 elsewhere). Chosen by the path: `request.routeOptions` builds a
// new object on every read. (@fastify/helmet rebuilt helmet's
// middleware for every request: a tenth of a /health request's CPU.)
export default fp(async (app) => {
  const page = securityHeaders(app.config)
  const api = apiSecurityHeaders(app.config)
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(API_PATHS.test(request.url) ? api : page)
    done()
  })
}, { name: 'helmet' })
