import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { RecoveryCodes } from '../../../../src/mfa/schemas.js'
import { PasswordBody, errors } from '../../../../src/schemas.js'

/** POST /account/mfa/recovery-codes: 10 new codes after the current password (the per-user limit); the old ones die. */
const recoveryCodes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['mfa'], body: PasswordBody, response: { 200: RecoveryCodes, ...errors(401, 403, 409) } },
    onRequest: app.authenticate,
    preHandler: app.passwordCheckLimit
  }, async (request) => {
    const codes = await app.mfa.regenerateRecoveryCodes(request.user, request.body.password)
    request.log.info({ event: 'recovery_codes_regenerated', userId: request.user.id, ip: request.ip }, 'new recovery codes; the old ones are void')
    return { recovery_codes: codes }
  })
}

export default recoveryCodes
