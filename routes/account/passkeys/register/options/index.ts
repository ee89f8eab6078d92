import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CreationOptions } from '../../../../../src/passkeys/schemas.js'
import { errors } from '../../../../../src/schemas.js'

const registerOptions: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['passkeys'], response: { 200: CreationOptions, ...errors(401, 403, 501) } },
    onRequest: app.authenticate
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return await app.passkeys.registrationOptions(request.user)
  })
}

export default registerOptions
