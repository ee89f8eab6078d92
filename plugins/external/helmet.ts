import fp from 'fastify-plugin'
import { securityHeaders } from '../../src/security-headers.js'

// Registered by src/app.ts before every autoloaded folder, so that the routes
// and hooks of packages inherit it; the folder's autoload skips this file.
export const autoload = false

// Security headers on every response: helmet's, computed once from the config
// (src/security-headers.ts) and set by one hook. (@fastify/helmet rebuilt
// helmet's middleware for every request: a tenth of a /health request's CPU.)
export default fp(async (app) => {
  const headers = securityHeaders(app.config)
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(headers)
    done()
  })
}, { name: 'helmet' })
