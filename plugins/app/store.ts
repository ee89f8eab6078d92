import fp from 'fastify-plugin'
import { openStore } from '../../src/db/open.js'
import type { Store } from '../../src/db/store.js'

declare module 'fastify' {
  interface FastifyInstance { store: Store }
}

export default fp(async (app) => {
  const store = await openStore(app.config, { onIdleError: (err) => { app.log.warn({ err }, 'PostgreSQL connection lost') } })
  app.decorate('store', store)
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'store' })
