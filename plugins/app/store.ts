import fp from 'fastify-plugin'
import { openSqliteStore } from '../../src/db/sqlite.js'
import type { Store } from '../../src/db/store.js'

declare module 'fastify' {
  interface FastifyInstance { store: Store }
}

export default fp(async (app) => {
  const { database, sqliteSynchronous, sqliteBusyTimeout } = app.config
  // The PostgreSQL driver is only loaded when used (it adds ~50 ms to every start).
  const store = database.kind === 'postgres'
    ? await (await import('../../src/db/postgres.js')).openPostgresStore({ url: database.url, onIdleError: (err) => { app.log.warn({ err }, 'PostgreSQL connection lost') } })
    : openSqliteStore({ path: database.path, synchronous: sqliteSynchronous, busyTimeout: sqliteBusyTimeout })
  app.decorate('store', store)
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'store' })
