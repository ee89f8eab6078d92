import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'

/**
 * The PostgreSQL server the tests use (trust auth, a superuser). Override with
 * PG_TEST_URL. When it cannot be reached the tests FAIL: they are never skipped.
 */
export const PG_ADMIN_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** `url` with its database replaced by `database`. */
export function withDatabase (url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** Runs one statement on the admin database with a short-lived connection. */
export async function admin (text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 })
  try {
    await client.connect()
  } catch (err) {
    throw new Error(`PostgreSQL for the tests is unreachable at ${PG_ADMIN_URL} (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): ${(err as Error).message}`)
  }
  try {
    return await client.query(text, values)
  } finally {
    await client.end()
  }
}

/**
 * A fresh, empty database `auth_test_<random>` for this test (file), dropped
 * (with any connection still open to it) when the test ends. Returns its URL.
 */
export async function testDatabase (t: Test): Promise<string> {
  const name = `auth_test_${randomBytes(6).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`)
  t.teardown(async () => { await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) })
  return withDatabase(PG_ADMIN_URL, name)
}
