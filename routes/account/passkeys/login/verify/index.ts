import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import { publicUser } from '../../../../../src/accounts/accounts.js'
import { LoginVerifyBody } from '../../../../../src/passkeys/schemas.js'
import { errors, UserWithTokens } from '../../../../../src/schemas.js'
import { loginContext } from '../../../../../src/sessions/sessions.js'

// Answers exactly as POST /account/login: the user, the tokens, the three cookies.
const loginVerify: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['passkeys'], body: LoginVerifyBody, response: { 200: UserWithTokens, ...errors(401, 403, 501) } },
    // RATE_LIMIT_LOGIN_MAX per client address, as the password login.
    ...app.ipLimit('passkey-login', app.config.rateLimit.loginMax)
  }, async (request, reply) => {
    try {
      const { user, tokens, passkey } = await app.passkeys.verifyAuthentication(request.body.response as AuthenticationResponseJSON, loginContext('passkey', request))
      request.log.info({ event: 'login', method: 'passkey', userId: user.id, passkeyId: passkey.id, ip: request.ip }, 'login succeeded')
      return await reply.setAuthCookies(tokens).send({ user: publicUser(user), ...tokens })
    } catch (err) {
      request.log.info({ event: 'login_failed', method: 'passkey', code: (err as { code?: string }).code, ip: request.ip }, 'login failed')
      throw err
    }
  })
}

export default loginVerify
