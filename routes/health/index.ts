import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const health: FastifyPluginAsyncTypebox = async (app) => {
  // Liveness only: no I/O, so gateways and load tests see the routing ceiling.
  // With REDIS_URL, `redis` says whether the shared rate limits can be counted
  // (the connection's state, read without a round trip).
  app.get('', {
    // The answer is built here from constants: JSON.stringify writes exactly
    // what the schema's serializer would (a test compares them), without
    // waiting for fast-json-stringify, which the service loads with the first
    // schema it compiles. A health check right after the start answers at once.
    serializerCompiler: () => (data) => JSON.stringify(data),
    schema: {
      tags: ['operations'],
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
