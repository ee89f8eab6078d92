import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { errors } from '../../../src/schemas.js'

/**
 * For gateways' auth subrequests (nginx auth_request, Traefik forwardAuth,
 * Envoy ext_authz): any method, since nginx repeats the original request's.
 * Answered in onRequest, before any body is read: gateways drop or forward it
 * as they please, and its media type or length must not change the answer.
 *
 * The access token comes from the Bearer header or the access_token cookie,
 * read as every authenticated route reads it (app.presentedAccessToken).
 * No CSRF check: the answer is a read (200 or 401, the user's id and email in
 * headers only) and grants nothing; the request the gateway then forwards is
 * the one the upstream protects.
 */
const forwardAuth: FastifyPluginAsyncTypebox = async (app) => {
  const response = { 200: Type.Object({}), ...errors(401) }
  const onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const { user } = await app.tokens.authenticate(app.presentedAccessToken(request).token)
    return await reply.header('cache-control', 'no-store')
      .header('x-auth-user-id', user.id).header('x-auth-user-email', user.email)
      .send({})
  }
  app.all('', { schema: { response }, onRequest }, async () => ({}))
  // Envoy's ext_authz (HTTP service) appends the original path to its path_prefix.
  app.all('/*', { schema: { response, hide: true }, onRequest }, async () => ({}))
}

export default forwardAuth
