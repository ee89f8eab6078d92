import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publicUser } from '../../../src/accounts/accounts.js'
import { MfaRequiredError } from '../../../src/errors.js'
import { errors, LoginBody, LoginErrorBody, UserWithTokens } from '../../../src/schemas.js'
import { loginContext } from '../../../src/sessions/sessions.js'

const login: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['tokens'], body: LoginBody, response: { 200: UserWithTokens, ...errors(403), 401: LoginErrorBody } },
    // Per client IP and per email: every attempt counts.
    ...app.ipAndEmailLimits('login', app.config.rateLimit.loginMax)
  }, async (request, reply) => {
    try {
      const { user, tokens } = await app.accounts.login(request.body.email, request.body.password, loginContext('password', request))
      request.log.info({ event: 'login', method: 'password', userId: user.id, ip: request.ip }, 'login succeeded')
      return await reply.setAuthCookies(tokens).send({ user: publicUser(user), ...tokens })
    } catch (err) {
      // The password was right: not a failure, the login goes on at POST /account/login/mfa.
      if (err instanceof MfaRequiredError) {
        request.log.info({ event: 'mfa_required', method: 'password', userId: err.userId, ip: request.ip }, 'login waits for a second factor')
        throw err
      }
      request.log.info({ event: 'login_failed', code: (err as { code?: string }).code, ip: request.ip }, 'login failed')
      throw err
    }
  })
}

export default login
