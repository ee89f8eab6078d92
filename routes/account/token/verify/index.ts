import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, VerifyBody } from '../../../../src/schemas.js'

const verify: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { body: VerifyBody, response: { 200: Type.Object({}), ...errors(401) } }
    // Not async: a remembered access token is verified without a promise.
  }, (request, reply) => {
    const verified = app.tokens.verify(request.body.token)
    if (verified instanceof Promise) return verified.then(() => ({}))
    return reply.send({})
  })

  // v1's gateway check, kept: the same answer as /account/forward-auth (GET only).
  app.get('', {
    schema: { response: { 200: Type.Object({}), ...errors(401) } },
    onRequest: app.forwardAuth
  }, async () => ({}))
}

export default verify
