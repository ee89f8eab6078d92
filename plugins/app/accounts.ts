import fp from 'fastify-plugin'
import { createAccountService, type AccountService } from '../../src/accounts/accounts.js'
import { createBreachCheck } from '../../src/passwords/pwned.js'

declare module 'fastify' {
  interface FastifyInstance { accounts: AccountService }
}

export default fp(async (app) => {
  const { config } = app
  // PWNED_PASSWORDS_URL: a check that cannot be made lets the password through,
  // with a warning (never the password, its hash or the prefix asked).
  const breached = config.pwnedPasswordsUrl === undefined
    ? undefined
    : createBreachCheck({
      url: config.pwnedPasswordsUrl,
      onUnavailable: (reason) => { app.log.warn({ event: 'pwned_passwords_unavailable', reason }, `breached-password check skipped: ${reason}`) }
    })
  app.decorate('accounts', createAccountService({
    store: app.store,
    hasher: app.passwords,
    tokens: app.tokens,
    ...(breached === undefined ? {} : { breached }),
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
