import { join } from 'node:path'
import type { Test } from 'tap'
import { openPostgresStore } from '../src/db/postgres.js'
import { openSqliteStore } from '../src/db/sqlite.js'
import type { Store } from '../src/db/store.js'
import { tempDir } from './helper.js'
import { testDatabase } from './pg-helper.js'

/*
 * The two store implementations, for tests that prove one contract on both:
 * a loop over one of these tables.
 */

export interface StoreOptions {
  /** SQLite's `synchronous` (default `full`, the service's own). */
  synchronous?: 'full' | 'normal'
  /** PostgreSQL's pool size (default the store's). */
  max?: number
}

/**
 * Each implementation's fresh, empty database of the test's own (a SQLite
 * file in a temp dir; a PostgreSQL database); `open` opens one more store on it
 * (another connection, another pool), closed when the test ends.
 */
export const storeDatabases: Array<[string, (t: Test) => Promise<{ open: (options?: StoreOptions) => Promise<Store> }>]> = [
  ['sqlite', async (t) => {
    const path = join(tempDir(t), 'auth.db')
    return {
      open: async ({ synchronous = 'full' } = {}) => {
        const store = openSqliteStore({ path, synchronous })
        t.teardown(() => store.close())
        return store
      }
    }
  }],
  ['postgres', async (t) => {
    const url = await testDatabase(t)
    return {
      open: async ({ max } = {}) => {
        const store = await openPostgresStore({ url, max })
        t.teardown(() => store.close())
        return store
      }
    }
  }]
]

/** One store of each implementation, on a fresh database of the test's own. */
export const storeImplementations: Array<[string, (t: Test) => Promise<Store>]> =
  storeDatabases.map(([kind, database]) => [kind, async (t) => await (await database(t)).open()])
