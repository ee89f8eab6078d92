import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const health: FastifyPluginAsyncTypebox = async (app) => {
  // Liveness only: no I/O, so gateways and load tests see the routing ceiling.
  app.get('', {
    schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } }
  }, async () => ({ status: 'ok' as const }))
}

export default health
