import fp from 'fastify-plugin'
import { createAccountService, type AccountService } from '../../src/accounts.js'

declare module 'fastify' {
  interface FastifyInstance { accounts: AccountService }
}

export default fp(async (app) => {
  app.decorate('accounts', createAccountService({ store: app.store, hasher: app.passwords, tokens: app.tokens }))
}, { name: 'accounts', dependencies: ['store', 'passwords', 'tokens'] })
