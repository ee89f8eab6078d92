import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TokenMissingError } from '../../../../src/errors.js'
import { errors, RefreshBody, TokenPair } from '../../../../src/schemas.js'
import { loginContext } from '../../../../src/sessions/sessions.js'

const refresh: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['tokens'], body: RefreshBody, response: { 200: TokenPair, ...errors(401, 403) } },
    // Browsers refresh with the cookie alone and may send no body at all.
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    const presented = app.presentedRefreshToken(request)
    if (presented === undefined) throw new TokenMissingError()
    // The request's context: the session of a simplejwt token's exchange (SIMPLEJWT_COMPAT) records it.
    const pair = await app.tokens.refresh(presented, loginContext('django', request))
    return await reply.setAuthCookies(pair).send(pair)
  })
}

export default refresh
