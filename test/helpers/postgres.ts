import { randomBytes } from 'node:crypto'
import { connect, createServer, type Server, type Socket } from 'node:net'
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

export interface PgRelay {
  /** The URL given, through the relay. */
  url: string
  /** The link cut: connections destroyed, new ones refused until `restore`. */
  cut: () => Promise<void>
  /** The link frozen, as a dead network path: bytes stop flowing, nothing closes, new connections are accepted and never answered. */
  freeze: () => void
  /** The link back on the same port; a frozen link's half-dead connections are gone (as a router's reset would). */
  restore: () => Promise<void>
}

/**
 * A TCP relay of this test's own to the PostgreSQL server of `url`, which the
 * test cuts or freezes to make network faults (the shared server is never
 * touched); closed when the test ends.
 */
export async function pgRelay (t: Test, url: string): Promise<PgRelay> {
  const target = new URL(url)
  const sockets = new Set<Socket>()
  let frozen = false
  const track = (s: Socket): void => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => s.destroy()) }
  let server: Server
  const listen = async (port: number): Promise<number> => {
    server = createServer((client) => {
      track(client)
      if (frozen) return // accepted, never answered
      const upstream = connect(Number(target.port || 5432), target.hostname)
      track(upstream)
      // Forwarding stops while frozen: nothing is lost or closed, it just never arrives.
      client.on('data', (d) => { if (!frozen) upstream.write(d) })
      upstream.on('data', (d) => { if (!frozen) client.write(d) })
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    return (server.address() as { port: number }).port
  }
  const port = await listen(0)
  const cut = async (): Promise<void> => {
    const closed = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve()
    for (const s of sockets) s.destroy()
    await closed
  }
  t.teardown(cut)
  const relayed = new URL(url)
  relayed.host = `127.0.0.1:${port}`
  return {
    url: relayed.toString(),
    cut,
    freeze: () => { frozen = true },
    restore: async () => { await cut(); frozen = false; await listen(port) }
  }
}
