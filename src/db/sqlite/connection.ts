import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import { migrationsDir } from '../../paths.js'
import { fileGuard, type FileIdentity } from './file-guard.js'

export interface SqliteOptions {
  path: string
  /**
   * `full`: every commit is fsynced (WAL), nothing acknowledged is lost even on
   * power loss. `normal`: commits survive a process crash but the last ones may
   * roll back on power loss or an OS crash.
   */
  synchronous: 'full' | 'normal'
  /** Milliseconds to wait for another connection's lock (SQLITE_BUSY after that); 5000 by default. */
  busyTimeout?: number
  /** Users remembered between requests (USER_CACHE_SIZE; 4096 by default, 0: none). */
  userCacheSize?: number
}

/** The event loop's connection to a migrated file, and how its writes are guarded. */
export interface SqliteConnection {
  sqlite: Database.Database
  /** `synchronous` as SQLite spells it, for the rotation writer's own connection. */
  synchronous: 'FULL' | 'NORMAL'
  busyTimeout: number
  /** The file opened: the rotation writer's connection refuses to write to another. */
  file: FileIdentity
  /** Runs a write only while the file at the path is still the one opened (file-guard.ts). */
  write: <T>(write: () => T) => T
}

/**
 * SQLite quietly opens a file it may not write (read-only file system or file)
 * read-only, and an up-to-date migration writes nothing: the service would
 * start and answer 503 to every write. Writing the header's user_version (to
 * its own value) makes the start fail instead, naming the file.
 */
function assertWritable (sqlite: Database.Database, path: string): void {
  try {
    sqlite.pragma(`user_version = ${Number(sqlite.pragma('user_version', { simple: true }))}`)
  } catch (err) {
    throw new Error(`SQLite database ${path} cannot be written (${(err as Error).message})`, { cause: err })
  }
}

/**
 * drizzle's SQLite migrator, in one BEGIN IMMEDIATE transaction: drizzle's own
 * reads which migrations are applied before it takes the write lock, so two
 * processes starting at once on an empty file would both apply the first one
 * (and one fail: "table already exists"). Here the read and the writes happen
 * under the file's write lock; a second process waits (busy timeout), then
 * finds nothing left to do. Same bookkeeping (table, hash, created_at) as
 * drizzle's, so either may run later.
 */
export function migrateLocked (sqlite: Database.Database, migrationsFolder: string): number {
  const migrations = readMigrationFiles({ migrationsFolder })
  const run = sqlite.transaction(() => {
    sqlite.exec('CREATE TABLE IF NOT EXISTS "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)')
    const last = sqlite.prepare('SELECT created_at FROM "__drizzle_migrations" ORDER BY created_at DESC LIMIT 1').pluck().get() as number | string | undefined
    const record = sqlite.prepare('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)')
    let applied = 0
    for (const migration of migrations) {
      if (last !== undefined && Number(last) >= migration.folderMillis) continue
      for (const statement of migration.sql) if (statement.trim() !== '') sqlite.exec(statement)
      record.run(migration.hash, migration.folderMillis)
      applied++
    }
    return applied
  })
  return run.immediate()
}

/**
 * SQLite's page cache of each connection (this one and the rotation writer's),
 * as the pragma takes it (negative: KiB): SQLite's own default, 2 MB.
 * better-sqlite3 raises it to 16 MB a connection, which became the largest
 * native share of the process's memory once the database outgrew it and
 * bought little: the users that requests read are remembered above it
 * (USER_CACHE_SIZE), and a page it lacks is one read from the operating
 * system's cache.
 */
export const PAGE_CACHE_KIB = -2000

/**
 * Opens (creating it and its folder if needed), tunes and migrates the SQLite
 * file. Its failures are the driver's own errors, or name the file: the start
 * reports them as they are.
 */
export function openDatabase ({ path, synchronous, busyTimeout = 5000 }: SqliteOptions): SqliteConnection {
  mkdirSync(dirname(path), { recursive: true })
  // Owner-only: the file holds password hashes and the signing keys (src/keys/).
  // SQLite gives its -wal and -shm files the database file's permissions.
  // Failures are left to SQLite's open and assertWritable below, which name the file.
  try { closeSync(openSync(path, 'wx', 0o600)) } catch { /* exists already, or cannot be created */ }
  try { chmodSync(path, 0o600) } catch { /* not ours to change (another owner): left as the operator set it */ }
  const sqlite = new Database(path, { timeout: busyTimeout })
  try {
    sqlite.pragma('journal_mode = WAL')
    const level = synchronous === 'full' ? 'FULL' : 'NORMAL'
    sqlite.pragma(`synchronous = ${level}`)
    sqlite.pragma('foreign_keys = ON')
    sqlite.pragma(`cache_size = ${PAGE_CACHE_KIB}`)
    assertWritable(sqlite, path)
    migrateLocked(sqlite, migrationsDir.sqlite)
    const { file, check } = fileGuard(path)
    const write = <T>(work: () => T): T => {
      check()
      const result = work()
      check()
      return result
    }
    return { sqlite, synchronous: level, busyTimeout, file, write }
  } catch (err) {
    sqlite.close()
    throw err
  }
}
