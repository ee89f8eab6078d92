import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publicUser } from '../../../../src/accounts/accounts.js'
import { EmailChangeBody, errors, UserWithDetail } from '../../../../src/schemas.js'

const changeEmail: FastifyPluginAsyncTypebox = async (app) => {
  // As the other routes that mail an address given in the body (per client IP
  // and per new address); it also bounds the password checks one access token
  // can make here.
  const limits = app.ipAndEmailLimits('email-change', app.config.rateLimit.mailMax, 'new_email')
  app.post('', {
    schema: { tags: ['lifecycle'], body: EmailChangeBody, response: { 200: UserWithDetail, ...errors(401, 403, 409) } },
    onRequest: [limits.onRequest, app.authenticate],
    preHandler: [limits.preHandler, app.passwordCheckLimit]
  }, async (request) => {
    const { user, pending } = await app.accounts.changeEmail(request.user, request.body.password, request.body.new_email)
    request.log.info({ event: pending ? 'email_change_requested' : 'email_changed', userId: user.id }, pending ? 'email change mailed for verification' : 'email changed')
    return {
      user: publicUser(user),
      detail: pending ? 'Verification e-mail sent to the new address; it becomes the login email once verified.' : 'Email changed.'
    }
  })
}

export default changeEmail
