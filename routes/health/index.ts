import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '../../src/vendor/typebox.js'

const health: FastifyPluginAsyncTypebox = async (app) => {
  // Liveness only: no I/O, so gateways and load tests see the routing ceiling.
  // With REDIS_URL, `redis` says whether the shared rate limits can be counted
  // (the connection's state, read without a round trip).
  app.get('', {
    schema: {
      response: {
        200: Type.Object({
          status: Type.Literal('ok'),
          redis: Type.Optional(Type.Union([Type.Literal('up'), Type.Literal('down')]))
        })
      }
    }
  }, async () => app.redis === null
    ? { status: 'ok' as const }
    : { status: 'ok' as const, redis: app.redisReachable() ? 'up' as const : 'down' as const })
}

export default health
