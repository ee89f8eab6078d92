import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { normalizeEmail, publicUser } from '../../../src/accounts/accounts.js'
import { RateLimitedError } from '../../../src/errors.js'
import { errors, LoginBody, UserWithTokens } from '../../../src/schemas.js'

const login: FastifyPluginAsyncTypebox = async (app) => {
  const { loginMax, window } = app.config.rateLimit
  const limit = { max: loginMax, timeWindow: window * 1000 }
  // Per client IP before the body is read, per email once it is: one host
  // spraying many accounts and a botnet spraying one account both hit a wall.
  // (@fastify/rate-limit runs one limiter hook per request, so the second is a
  // check called from preHandler.)
  const perEmail = app.createRateLimit({
    ...limit,
    keyGenerator: (req) => `login-email:${normalizeEmail((req.body as { email: string }).email)}`
  })
  app.post('', {
    schema: { body: LoginBody, response: { 200: UserWithTokens, ...errors(401, 403) } },
    onRequest: app.rateLimit({ ...limit, keyGenerator: (req) => `login-ip:${req.ip}` }),
    preHandler: async (request, reply) => {
      const state = await perEmail(request)
      if (!state.isAllowed && state.isExceeded) {
        void reply.header('retry-after', state.ttlInSeconds)
        throw new RateLimitedError(state.ttlInSeconds)
      }
    }
  }, async (request, reply) => {
    try {
      const { user, tokens } = await app.accounts.login(request.body.email, request.body.password)
      request.log.info({ event: 'login', userId: user.id, ip: request.ip }, 'login succeeded')
      return await reply.setAuthCookies(tokens).send({ user: publicUser(user), ...tokens })
    } catch (err) {
      request.log.info({ event: 'login_failed', code: (err as { code?: string }).code, ip: request.ip }, 'login failed')
      throw err
    }
  })
}

export default login
