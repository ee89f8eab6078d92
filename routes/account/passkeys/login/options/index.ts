import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { LoginOptionsBody, RequestOptions } from '../../../../../src/passkeys/schemas.js'
import { errors } from '../../../../../src/schemas.js'

const loginOptions: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['passkeys'], body: LoginOptionsBody, response: { 200: RequestOptions, ...errors(501) } },
    // RATE_LIMIT_LOGIN_MAX per client address, as the password login.
    ...app.ipLimit('passkey-options', app.config.rateLimit.loginMax)
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    return await app.passkeys.authenticationOptions(request.body.email)
  })
}

export default loginOptions
