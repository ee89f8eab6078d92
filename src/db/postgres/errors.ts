import { DrizzleQueryError } from 'drizzle-orm'
import { StorageUnavailableError } from '../../errors.js'

/** The database cannot be used at start: one line, no stack, no password. */
export class DatabaseStartError extends Error {
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DatabaseStartError'
  }
}

/** node-postgres failures that carry no code but mean "the connection is gone / none is available". */
const CONNECTION_MESSAGES = /^(Query read timeout|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|Client was closed)/i

/** The driver's error without drizzle's wrapper (whose message lists the bound values, hashes included). */
export function unwrap (err: unknown): unknown {
  while (err instanceof DrizzleQueryError && err.cause !== undefined) err = err.cause
  return err
}

/** Connection-class failures: the server is down, unreachable, restarting or out of connections. */
const CONNECTION_CODES = /^(08...|57P0[1-3]|53...|E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN))$/

export function isConnectionError (err: unknown): boolean {
  const code = codeOf(err)
  if (code !== undefined) return CONNECTION_CODES.test(code)
  return err instanceof Error && CONNECTION_MESSAGES.test(err.message)
}

export function codeOf (err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/**
 * PostgreSQL's "the storage cannot be used right now": connection exceptions
 * (08xxx), the server shutting down or starting (57P01-03), insufficient
 * resources (53xxx: disk, memory, too many connections), contention left after
 * the store's retries (40001, 40P01, 55P03), and the socket errors of an
 * unreachable server.
 */
export const UNAVAILABLE = /^(08[0-9A-Z]{3}|57P0[1-3]|53[0-9A-Z]{3}|40001|40P01|55P03|E(CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH|NETUNREACH|NOTFOUND|AI_AGAIN))$/

/**
 * What the PostgreSQL store throws for a failure: StorageUnavailableError,
 * with the driver's error as its cause, when the server is out of reach or
 * cannot serve right now (by its code, or node-postgres's connection messages,
 * which carry none); otherwise (a bug) the driver's error itself. Never
 * drizzle's DrizzleQueryError: its message lists the query's bound values
 * (password hashes, token keys), which must not reach a log.
 */
export function domainError (err: unknown): unknown {
  const e = unwrap(err)
  for (let c: unknown = e; c !== null && typeof c === 'object'; c = (c as { cause?: unknown }).cause) {
    const code = codeOf(c)
    if (code === undefined ? c instanceof Error && CONNECTION_MESSAGES.test(c.message) : UNAVAILABLE.test(code)) {
      return new StorageUnavailableError({ cause: e })
    }
  }
  return e
}

/** `host:port/database` of a URL, never its credentials. */
export function describeUrl (url: string): string {
  try {
    const u = new URL(url)
    const host = u.searchParams.get('host') ?? (u.hostname === '' ? 'localhost' : u.hostname)
    return `${host}:${u.port === '' ? '5432' : u.port}${u.pathname === '' ? '/' : u.pathname}`
  } catch {
    return 'the configured server'
  }
}

/** A start failure as one readable line naming DATABASE_URL. */
export function startError (err: unknown, url: string): DatabaseStartError {
  const e = unwrap(err)
  const code = codeOf(e)
  const where = describeUrl(url)
  const reason = (e instanceof Error && e.message !== '') ? e.message : (code ?? String(e))
  let message: string
  if (code === '28P01' || code === '28000') message = `DATABASE_URL: PostgreSQL at ${where} refused the login: ${reason}`
  else if (code === '3D000') message = `DATABASE_URL: PostgreSQL at ${where}: ${reason}`
  else if (isConnectionError(e)) message = `DATABASE_URL: cannot reach PostgreSQL at ${where}: ${reason}`
  else message = `PostgreSQL at ${where}: cannot prepare the database: ${reason}`
  return new DatabaseStartError(message, { cause: e })
}
