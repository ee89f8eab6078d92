import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Detail, EmailBody, errors } from '../../../../src/schemas.js'

const reset: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['lifecycle'], body: EmailBody, response: { 200: Detail, ...errors() } },
    ...app.ipAndEmailLimits('password-reset', app.config.rateLimit.mailMax)
  }, async (request) => {
    // No user enumeration: the same status, body and work for every address;
    // the lookup and the mail happen after the answer.
    app.accounts.requestPasswordReset(request.body.email)
    request.log.info({ event: 'password_reset_requested', ip: request.ip }, 'password reset requested')
    return { detail: 'If this address belongs to an account, a password reset e-mail has been sent.' }
  })
}

export default reset
