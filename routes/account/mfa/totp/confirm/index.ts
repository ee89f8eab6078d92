import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ConfirmBody, RecoveryCodes } from '../../../../../src/mfa/schemas.js'
import { errors } from '../../../../../src/schemas.js'

/** POST /account/mfa/totp/confirm: the pending secret's current code turns TOTP on; the recovery codes are shown this once. */
const confirm: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['mfa'], body: ConfirmBody, response: { 200: RecoveryCodes, ...errors(401, 403, 409) } },
    onRequest: app.authenticate
  }, async (request) => {
    const codes = await app.mfa.confirm(request.user, request.body.code)
    request.log.info({ event: 'mfa_enabled', userId: request.user.id, ip: request.ip }, 'TOTP turned on')
    return { recovery_codes: codes }
  })
}

export default confirm
