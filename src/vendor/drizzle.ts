/*
 * drizzle-orm's core (the query builder's operators, `sql`, its errors),
 * imported by the service from here only, like the dialects in
 * drizzle-sqlite.ts and drizzle-postgres.ts: drizzle-orm is some 110 ES
 * modules on the SQLite store's path, about 100 ms of the start in Node 20's
 * loader. `npm run build` bundles the three (scripts/bundle-vendor.mjs), with
 * the code they share once, so that drizzle's classes stay one set.
 */
export * from 'drizzle-orm'
