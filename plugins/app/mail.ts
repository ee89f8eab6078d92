import fp from 'fastify-plugin'
import { createMailer, type Mailer } from '../../src/mail/mailer.js'

declare module 'fastify' {
  interface FastifyInstance { mailer: Mailer }
}

/**
 * The mailer (src/mail/): SMTP_URL's pooled SMTP, or .eml files in the data
 * directory's outbox/. Closing waits for the mails already queued (a retry
 * still pending is given up and logged).
 */
export default fp(async (app) => {
  const mailer = createMailer({ config: app.config.mail, log: app.log.child({ module: 'mail' }) })
  app.decorate('mailer', mailer)
  app.addHook('onClose', async () => {
    await mailer.close()
    await mailer.idle()
  })
  if (app.config.mail.smtpUrl === undefined) {
    app.log.info({ outbox: app.config.mail.outboxDir }, 'SMTP_URL is not set: mails are written to the outbox folder')
  }
}, { name: 'mailer' })
