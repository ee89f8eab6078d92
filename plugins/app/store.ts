import fp from 'fastify-plugin'
import { openPostgresStore } from '../../src/db/postgres.js'
import { openSqliteStore } from '../../src/db/sqlite.js'
import type { Store } from '../../src/db/store.js'

declare module 'fastify' {
  interface FastifyInstance { store: Store }
}

export default fp(async (app) => {
  const { database, sqliteSynchronous, sqliteBusyTimeout } = app.config
  const store = database.kind === 'postgres'
    ? await openPostgresStore({ url: database.url, onIdleError: (err) => { app.log.warn({ err }, 'PostgreSQL connection lost') } })
    : openSqliteStore({ path: database.path, synchronous: sqliteSynchronous, busyTimeout: sqliteBusyTimeout })
  app.decorate('store', store)
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'store' })
