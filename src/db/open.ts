import type { Config } from '../config.js'
import { openSqliteStore } from './sqlite/store.js'
import type { Store } from './store.js'

export interface OpenStoreOptions {
  /** Errors of idle pooled PostgreSQL connections (server restart, network loss). */
  onIdleError?: (err: Error) => void
  /** PostgreSQL: the user-change listener (cache invalidation across instances) went down or came back. */
  onListener?: (state: 'up' | 'down', err?: Error) => void
  /** PostgreSQL: the ended-session listener (access tokens of ended sessions refused at once) went down or came back. */
  onSessionListener?: (state: 'up' | 'down', err?: Error) => void
}

/**
 * The store the configuration names, opened and migrated: the same call for the
 * server (plugins/app/store.ts) and the command line (src/cli/).
 */
export async function openStore (config: Config, options: OpenStoreOptions = {}): Promise<Store> {
  const { database, sqliteSynchronous, sqliteBusyTimeout, userCacheSize } = config
  // The PostgreSQL driver is only loaded when used (loading it lengthens every start).
  if (database.kind === 'postgres') {
    const { openPostgresStore } = await import('./postgres/store.js')
    return await openPostgresStore({
      url: database.url,
      userCacheSize,
      ...(options.onIdleError === undefined ? {} : { onIdleError: options.onIdleError }),
      ...(options.onListener === undefined ? {} : { onListener: options.onListener }),
      ...(options.onSessionListener === undefined ? {} : { onSessionListener: options.onSessionListener })
    })
  }
  return openSqliteStore({ path: database.path, synchronous: sqliteSynchronous, busyTimeout: sqliteBusyTimeout, userCacheSize })
}
