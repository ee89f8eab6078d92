import fp from 'fastify-plugin'
import { createAccountService, type AccountService } from '../../src/accounts/accounts.js'

declare module 'fastify' {
  interface FastifyInstance { accounts: AccountService }
}

export default fp(async (app) => {
  const { config } = app
  app.decorate('accounts', createAccountService({
    store: app.store,
    hasher: app.passwords,
    tokens: app.tokens,
    emailVerification: config.emailVerification,
    mail: {
      mailer: app.mailer,
      language: config.mail.language,
      passwordResetUrl: config.passwordResetUrl,
      emailVerifyUrl: config.emailVerifyUrl,
      clientPageUrl: config.publicUrl,
      passwordResetLifetime: config.passwordResetLifetime,
      emailVerificationLifetime: config.emailVerificationLifetime
    }
  }))
}, { name: 'accounts', dependencies: ['store', 'passwords', 'tokens', 'mailer'] })
