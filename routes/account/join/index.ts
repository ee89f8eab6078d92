import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publicUser } from '../../../src/accounts.js'
import { errors, JoinBody, UserWithTokens } from '../../../src/schemas.js'

const join: FastifyPluginAsyncTypebox = async (app) => {
  const { joinMax, window } = app.config.rateLimit
  app.post('', {
    schema: { body: JoinBody, response: { 201: UserWithTokens, ...errors(409) } },
    onRequest: app.rateLimit({ max: joinMax, timeWindow: window * 1000, keyGenerator: (req) => `join:${req.ip}` })
  }, async (request, reply) => {
    const { user, tokens } = await app.accounts.join(request.body)
    request.log.info({ event: 'user_joined', userId: user.id, ip: request.ip }, 'user joined')
    return await reply.code(201).setAuthCookies(tokens).send({ user: publicUser(user), ...tokens })
  })
}

export default join
