import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Jwks } from '../../../src/schemas.js'

const jwks: FastifyPluginAsyncTypebox = async (app) => {
  // Verifiers may cache the set for less than the shortest time a retired key
  // stays in it (its overlap ≥ the access-token lifetime): a cached set never
  // lacks a key that still signs live tokens for longer than that.
  const maxAge = Math.max(1, Math.min(300, Math.floor(app.config.accessTokenLifetime / 2)))
  app.get('', {
    schema: { tags: ['gateway'], response: { 200: Jwks } }
  }, async (_request, reply) => {
    void reply.header('cache-control', `public, max-age=${maxAge}`)
    return app.keys.jwks()
  })
}

export default jwks
