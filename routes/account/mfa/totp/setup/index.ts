import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { TotpSetup } from '../../../../../src/mfa/schemas.js'
import { errors } from '../../../../../src/schemas.js'

/** POST /account/mfa/totp/setup: a new secret, pending until POST /account/mfa/totp/confirm. */
const setup: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['mfa'], response: { 200: TotpSetup, ...errors(401, 403, 409) } },
    onRequest: app.authenticate
  }, async (request) => {
    const { secret, otpauthUrl, qrSvg } = await app.mfa.setup(request.user)
    return { secret, otpauth_url: otpauthUrl, qr_svg: qrSvg }
  })
}

export default setup
