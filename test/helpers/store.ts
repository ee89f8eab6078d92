import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { Test } from 'tap'
import { openPostgresStore } from '../../src/db/postgres/store.js'
import { openSqliteStore } from '../../src/db/sqlite/store.js'
import type { Store } from '../../src/db/store.js'
import type { Config } from '../../src/config.js'
import { tempDir } from './app.js'
import { testDatabase } from './postgres.js'

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

export interface StoreDatabase {
  /** One more store on the database (another connection, another pool), closed when the test ends. */
  open: (options?: StoreOptions) => Promise<Store>
  /** Runs statements on a connection of its own beside the stores (to inject a fault, say). */
  sql: (text: string) => Promise<void>
}

/**
 * Runs statements on a connection of its own to `database` (a SQLite file or a
 * PostgreSQL database), beside whatever else uses it: opened at the first
 * call, closed when the test ends.
 */
export function sideSql (t: Test, database: Config['database']): (text: string) => Promise<void> {
  if (database.kind === 'sqlite') {
    let side: Database.Database | undefined
    return async (text) => {
      if (side === undefined) {
        const opened = side = new Database(database.path)
        t.teardown(() => { opened.close() })
      }
      side.exec(text)
    }
  }
  let side: pg.Client | undefined
  return async (text) => {
    if (side === undefined) {
      const client = side = new pg.Client({ connectionString: database.url })
      await client.connect()
      t.teardown(async () => { await client.end() })
    }
    await side.query(text)
  }
}

/**
 * Each implementation's fresh, empty database of the test's own (a SQLite
 * file in a temp dir; a PostgreSQL database).
 */
export const storeDatabases: Array<[string, (t: Test) => Promise<StoreDatabase>]> = [
  ['sqlite', async (t) => {
    const path = join(tempDir(t), 'auth.db')
    return {
      open: async ({ synchronous = 'full' } = {}) => {
        const store = openSqliteStore({ path, synchronous })
        t.teardown(() => store.close())
        return store
      },
      sql: sideSql(t, { kind: 'sqlite', path })
    }
  }],
  ['postgres', async (t) => {
    const url = await testDatabase(t)
    return {
      open: async ({ max } = {}) => {
        const store = await openPostgresStore({ url, max })
        t.teardown(() => store.close())
        return store
      },
      sql: sideSql(t, { kind: 'postgres', url })
    }
  }]
]

/** One store of each implementation, on a fresh database of the test's own. */
export const storeImplementations: Array<[string, (t: Test) => Promise<Store>]> =
  storeDatabases.map(([kind, database]) => [kind, async (t) => await (await database(t)).open()])
