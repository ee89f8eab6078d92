import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors, PasswordResetConfirmBody, TokenPair } from '../../../../../src/schemas.js'
import { loginContext } from '../../../../../src/sessions/sessions.js'

const confirm: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['lifecycle'], body: PasswordResetConfirmBody, response: { 200: TokenPair, ...errors() } }
  }, async (request, reply) => {
    const { user, tokens } = await app.accounts.confirmPasswordReset(request.body.token, request.body.new_password, loginContext('password', request))
    request.log.info({ event: 'password_reset', userId: user.id, ip: request.ip }, 'password reset; all sessions revoked')
    return await reply.setAuthCookies(tokens).send(tokens)
  })
}

export default confirm
