import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errors, LogoutBody } from '../../../src/schemas.js'

const logout: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['tokens'], body: LogoutBody, response: { 200: Type.Object({ detail: Type.String() }), ...errors(401, 403) } },
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    if (request.body.all === true) {
      const user = await app.requireUser(request)
      const revoked = await app.tokens.logoutEverywhere(user.id)
      request.log.info({ event: 'logout_all', userId: user.id, revoked }, 'logged out everywhere')
    } else {
      const presented = app.presentedRefreshToken(request)
      if (presented !== undefined) await app.tokens.logout(presented)
      request.log.info({ event: 'logout', ip: request.ip }, 'logged out')
    }
    return await reply.clearAuthCookies().send({ detail: 'Successfully logged out.' })
  })
}

export default logout
