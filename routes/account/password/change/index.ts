import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors, PasswordChangeBody, TokenPair } from '../../../../src/schemas.js'
import { loginContext } from '../../../../src/sessions/sessions.js'

const changePassword: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['account'], body: PasswordChangeBody, response: { 200: TokenPair, ...errors(401, 403) } },
    onRequest: app.authenticate,
    preHandler: app.passwordCheckLimit
  }, async (request, reply) => {
    const pair = await app.accounts.changePassword(request.user, request.body.old_password, request.body.new_password, loginContext('password', request))
    request.log.info({ event: 'password_changed', userId: request.user.id }, 'password changed; all sessions revoked')
    return await reply.setAuthCookies(pair).send(pair)
  })
}

export default changePassword
