import fp from 'fastify-plugin'
import { openStore } from '../../src/db/open.js'
import type { Store } from '../../src/db/store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
    /**
     * Runs `purge` (deleting a table's expired rows) at start and every
     * TOKEN_PURGE_INTERVAL (0: never), so that no table grows without bound;
     * a failure is logged as a warning with `failure`, and tried again at the
     * next interval.
     */
    schedulePurge: (failure: string, purge: () => Promise<void>) => void
  }
}

export default fp(async (app) => {
  const store = await openStore(app.config, {
    onIdleError: (err) => { app.log.warn({ err }, 'PostgreSQL connection lost') },
    onListener: (state, err) => {
      if (state === 'down') app.log.warn({ err: err === undefined ? undefined : { message: err.message } }, 'PostgreSQL user-change listener lost: users are read on every request until it is back')
      else app.log.info('PostgreSQL user-change listener up: users are cached, changes from every instance are seen at once')
    },
    onSessionListener: (state, err) => {
      if (state === 'down') app.log.warn({ err: err === undefined ? undefined : { message: err.message } }, 'PostgreSQL session listener lost: sessions are read on every request with a session until it is back')
      else app.log.info('PostgreSQL session listener up: ended sessions are refused from memory, endings on every instance are heard at once')
    }
  })
  app.decorate('store', store)
  app.addHook('onClose', async () => { await store.close() })

  app.decorate('schedulePurge', (failure: string, purge: () => Promise<void>) => {
    if (app.config.tokenPurgeInterval <= 0) return
    const run = async (): Promise<void> => {
      try {
        await purge()
      } catch (err) {
        app.log.warn({ err }, failure)
      }
    }
    app.addHook('onReady', run)
    const timer = setInterval(() => { void run() }, app.config.tokenPurgeInterval).unref()
    app.addHook('onClose', async () => { clearInterval(timer) })
  })
}, { name: 'store' })
