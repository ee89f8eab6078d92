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

  // For gateways' auth subrequests (nginx auth_request, Traefik forwardAuth,
  // Envoy ext_authz): the access token of the original request, by header or
  // cookie; 200 with the user in headers, or the usual 401.
  app.get('', {
    schema: { response: { 200: Type.Object({}), ...errors(401) } },
    onRequest: app.authenticate
  }, async (request, reply) => {
    void reply.header('x-auth-user-id', request.user.id).header('x-auth-user-email', request.user.email)
    return {}
  })
}

export default verify
