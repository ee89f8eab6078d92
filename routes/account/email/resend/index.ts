import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Detail, EmailBody, errors } from '../../../../src/schemas.js'

const resend: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['lifecycle'], body: EmailBody, response: { 200: Detail, ...errors() } },
    ...app.ipAndEmailLimits('verify-resend', app.config.rateLimit.mailMax)
  }, async (request) => {
    // The same answer whether or not the address is known or already verified.
    app.accounts.requestVerification(request.body.email)
    return { detail: 'If this address belongs to an unverified account, a verification e-mail has been sent.' }
  })
}

export default resend
