import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publicUser } from '../../../src/accounts/accounts.js'
import { errors, LoginBody, UserWithTokens } from '../../../src/schemas.js'
import { loginContext } from '../../../src/sessions/sessions.js'

const login: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['tokens'], body: LoginBody, response: { 200: UserWithTokens, ...errors(401, 403) } },
    // Per client IP and per email: every attempt counts.
    ...app.ipAndEmailLimits('login', app.config.rateLimit.loginMax)
  }, async (request, reply) => {
    try {
      const { user, tokens } = await app.accounts.login(request.body.email, request.body.password, loginContext('password', request))
      request.log.info({ event: 'login', userId: user.id, ip: request.ip }, 'login succeeded')
      return await reply.setAuthCookies(tokens).send({ user: publicUser(user), ...tokens })
    } catch (err) {
      request.log.info({ event: 'login_failed', code: (err as { code?: string }).code, ip: request.ip }, 'login failed')
      throw err
    }
  })
}

export default login
