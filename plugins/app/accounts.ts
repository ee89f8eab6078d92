import { randomBytes } from 'node:crypto'
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
    socialMfa: config.social.mfa,
    mfa: app.mfa,
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

  // Failed logins are answered no sooner than the slowest kind of hash takes
  // (src/passwords/hash.ts). While Django hashes remain, one is verified
  // (against a random password) once the service is ready, in the background:
  // the very first failed attempt on an imported account then takes no longer
  // than any other.
  app.addHook('onReady', async () => {
    void (async () => {
      try {
        const sample = await app.store.users.foreignHashSample()
        if (sample !== undefined) await app.passwords.verify(sample, randomBytes(16).toString('base64url'))
      } catch {
        // The storage is unavailable: the cost is learnt from the first attempt instead.
      }
    })()
  })
}, { name: 'accounts', dependencies: ['store', 'passwords', 'tokens', 'mailer', 'mfa'] })
