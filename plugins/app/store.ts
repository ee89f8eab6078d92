import fp from 'fastify-plugin'
import { openSqliteStore } from '../../src/db/sqlite.js'
import type { Store } from '../../src/db/store.js'

declare module 'fastify' {
  interface FastifyInstance { store: Store }
}

export default fp(async (app) => {
  const { database, sqliteSynchronous } = app.config
  if (database.kind !== 'sqlite') {
    throw new Error('DATABASE_URL: PostgreSQL is not supported by this build; use a SQLite path')
  }
  const store = openSqliteStore({ path: database.path, synchronous: sqliteSynchronous })
  app.decorate('store', store)
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'store' })
