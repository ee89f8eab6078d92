import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publicUser } from '../../../../src/accounts/accounts.js'
import { EmailVerifyBody, errors, UserWithDetail } from '../../../../src/schemas.js'

const verifyEmail: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['lifecycle'], body: EmailVerifyBody, response: { 200: UserWithDetail, ...errors(409) } }
  }, async (request) => {
    const user = await app.accounts.verifyEmail(request.body.token)
    request.log.info({ event: 'email_verified', userId: user.id }, 'email verified')
    return { user: publicUser(user), detail: 'Email verified.' }
  })
}

export default verifyEmail
