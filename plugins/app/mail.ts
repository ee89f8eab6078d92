import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { normalizeEmail } from '../../src/accounts/accounts.js'
import { RateLimitedError } from '../../src/errors.js'
import { createMailer, type Mailer } from '../../src/mail/mailer.js'

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

declare module 'fastify' {
  interface FastifyInstance {
    mailer: Mailer
    /**
     * The limits of a route that mails an address given in its body (password
     * reset, verification resend): RATE_LIMIT_MAIL_MAX per window per client
     * IP (onRequest) and per address (preHandler), as login does.
     */
    mailRequestLimits: (name: string) => { onRequest: Hook, preHandler: Hook }
  }
}

/**
 * The mailer (src/mail/): SMTP_URL's pooled SMTP, or .eml files in the data
 * directory's outbox/. Closing waits for the mails already queued (a retry
 * still pending is given up and logged).
 */
export default fp(async (app) => {
  const mailer = createMailer({ config: app.config.mail, log: app.log.child({ module: 'mail' }) })
  app.decorate('mailer', mailer)

  app.decorate('mailRequestLimits', (name: string) => {
    const limit = { max: app.config.rateLimit.mailMax, timeWindow: app.config.rateLimit.window * 1000 }
    const perEmail = app.createRateLimit({ ...limit, keyGenerator: (req) => `${name}-email:${normalizeEmail((req.body as { email: string }).email)}` })
    return {
      onRequest: app.rateLimit({ ...limit, keyGenerator: (req) => `${name}-ip:${req.ip}` }) as Hook,
      async preHandler (request: FastifyRequest, reply: FastifyReply) {
        const state = await perEmail(request)
        if (!state.isAllowed && state.isExceeded) {
          void reply.header('retry-after', state.ttlInSeconds)
          throw new RateLimitedError(state.ttlInSeconds)
        }
      }
    }
  })
  app.addHook('onClose', async () => {
    await mailer.close()
    await mailer.idle()
  })
  if (app.config.mail.smtpUrl === undefined) {
    app.log.info({ outbox: app.config.mail.outboxDir }, 'SMTP_URL is not set: mails are written to the outbox folder')
  }
}, { name: 'mailer', dependencies: ['@fastify/rate-limit'] })
