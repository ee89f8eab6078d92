import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, VerifyBody } from '../../../../src/schemas.js'

const verify: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['tokens'], body: VerifyBody, response: { 200: Type.Object({}), ...errors(401) } }
    // Not async: a remembered access token is verified without a promise.
  }, (request) => {
    // A value, not the reply (a reply is thenable: Fastify would take it for a promise).
    const verified = app.tokens.verify(request.body.token)
    return verified instanceof Promise ? verified.then(() => ({})) : {}
  })

  // v1's gateway check, kept: the same answer as /account/forward-auth (GET only).
  app.get('', {
    schema: { tags: ['gateway'], response: { 200: Type.Object({}), ...errors(401) } },
    onRequest: app.forwardAuth
  }, async () => ({}))
}

export default verify
