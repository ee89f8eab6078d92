import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { PasswordBody, Detail, errors } from '../../../../src/schemas.js'

/** DELETE /account/mfa/totp: TOTP off after the current password (a current-password check: the per-user limit). */
const totp: FastifyPluginAsyncTypebox = async (app) => {
  app.delete('', {
    schema: { tags: ['mfa'], body: PasswordBody, response: { 200: Detail, ...errors(401, 403) } },
    onRequest: app.authenticate,
    preHandler: app.passwordCheckLimit
  }, async (request) => {
    if (await app.mfa.disable(request.user, request.body.password)) {
      request.log.info({ event: 'mfa_disabled', userId: request.user.id, ip: request.ip }, 'TOTP turned off')
    }
    return { detail: 'TOTP is off.' }
  })
}

export default totp
