import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { driverCode, NotReadyError, StorageUnavailableError } from '../../src/errors.js'
import { errors } from '../../src/schemas.js'

const ready: FastifyPluginAsyncTypebox = async (app) => {
  // Readiness: the database answers. /health stays the liveness check (no I/O).
  app.get('', {
    schema: { tags: ['operations'], response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errors() } }
  }, async (_request, reply) => {
    void reply.header('cache-control', 'no-store')
    try {
      await app.store.ping()
    } catch (err) {
      const code = err instanceof StorageUnavailableError ? driverCode(err) ?? err.code : (err as { code?: unknown }).code
      throw new NotReadyError(`the database does not answer${typeof code === 'string' ? ` (${code})` : ''}`)
    }
    return { status: 'ready' as const }
  })
}

export default ready
