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

  // Expired reset and verification tokens are of no use: purged at start and hourly.
  const purge = async (): Promise<void> => {
    try {
      const purged = await app.store.accountTokens.purgeExpired(Math.floor(Date.now() / 1000))
      if (purged > 0) app.log.info({ event: 'account_tokens_purged', count: purged }, 'expired account tokens purged')
    } catch (err) {
      app.log.warn({ err }, 'purging expired account tokens failed')
    }
  }
  app.addHook('onReady', purge)
  const timer = setInterval(() => { void purge() }, 60 * 60 * 1000).unref()
  app.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'accounts', dependencies: ['store', 'passwords', 'tokens', 'mailer'] })
