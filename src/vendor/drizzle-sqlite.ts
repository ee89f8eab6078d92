/* drizzle-orm's SQLite dialect and better-sqlite3 driver: see drizzle.ts. */
export * from 'drizzle-orm/sqlite-core'
export { drizzle } from 'drizzle-orm/better-sqlite3'
export { readMigrationFiles } from 'drizzle-orm/migrator'
