/* drizzle-orm's PostgreSQL dialect, node-postgres driver and migrator: see drizzle.ts. */
export * from 'drizzle-orm/pg-core'
export { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
export { migrate } from 'drizzle-orm/node-postgres/migrator'
