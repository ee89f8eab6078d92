import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { MfaStatus } from '../../../src/mfa/schemas.js'
import { errors } from '../../../src/schemas.js'

/** GET /account/mfa: the signed-in user's second factor. */
const mfa: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    schema: { tags: ['mfa'], response: { 200: MfaStatus, ...errors(401, 403) } },
    onRequest: app.authenticate
  }, async (request) => await app.mfa.status(request.user))
}

export default mfa
