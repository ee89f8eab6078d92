import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publicUser } from '../../../src/accounts/accounts.js'
import { errors, JoinBody, UserWithDetail, UserWithTokens } from '../../../src/schemas.js'
import { loginContext } from '../../../src/sessions/sessions.js'

const join: FastifyPluginAsyncTypebox = async (app) => {
  // EMAIL_VERIFICATION=mandatory: no tokens until the address is verified (allauth).
  const mandatory = app.config.emailVerification === 'mandatory'
  app.post('', {
    schema: { tags: ['account'], body: JoinBody, response: { 201: mandatory ? UserWithDetail : UserWithTokens, ...errors(409) } },
    ...app.ipLimit('join', app.config.rateLimit.joinMax)
  }, async (request, reply) => {
    const { user, tokens } = await app.accounts.join(request.body, loginContext('password', request))
    request.log.info({ event: 'user_joined', userId: user.id, ip: request.ip }, 'user joined')
    if (tokens === undefined) return await reply.code(201).send({ user: publicUser(user), detail: 'Verification e-mail sent.' })
    return await reply.code(201).setAuthCookies(tokens).send({ user: publicUser(user), ...tokens })
  })
}

export default join
