import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { HelmetOptions } from 'helmet'
import { helmetHeaders, securityHeaderOptions } from '../../src/security-headers.js'

// Security headers on every response (src/security-headers.ts).
export const autoConfig = (app: FastifyInstance): HelmetOptions => securityHeaderOptions(app.config)

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
