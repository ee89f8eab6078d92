import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, VerifyBody } from '../../../../src/schemas.js'

const verify: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { body: VerifyBody, response: { 200: Type.Object({}), ...errors(401) } }
  }, async (request) => {
    await app.tokens.verify(request.body.token)
    return {}
  })

  // v1's gateway check, kept: the same answer as /account/forward-auth (GET only).
  app.get('', {
    schema: { response: { 200: Type.Object({}), ...errors(401) } },
    onRequest: app.forwardAuth
  }, async () => ({}))
}

export default verify
