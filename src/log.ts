import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { DrizzleQueryError } from 'drizzle-orm'
import pino from 'pino'
import { UNAVAILABLE as PG_UNAVAILABLE } from './db/postgres/errors.js'
import { UNAVAILABLE as SQLITE_UNAVAILABLE } from './db/sqlite/errors.js'

/**
 * Secrets never reach a log line, whatever logs them: request and response
 * headers that carry credentials, and any field named like a password, a
 * token or a hash, at the top level or one level down (`{ body: { password } }`).
 */
export const redact = {
  paths: [
    'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]',
    'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie', 'headers["set-cookie"]',
    'password', 'old_password', 'new_password', 'refresh', 'access', 'token', 'passwordHash', 'password_hash',
    '*.password', '*.old_password', '*.new_password', '*.refresh', '*.access', '*.token', '*.passwordHash',
    '*.password_hash'
  ],
  censor: '[redacted]'
}

/**
 * A storage driver's error: better-sqlite3's (SQLITE_… codes), node-postgres's
 * (a server's `severity` and `routine`), drizzle's wrapper, ioredis's (its
 * `command`, whose `args` are the shared rate limits' keys: emails).
 */
function isDriverError (e: object): boolean {
  if (e instanceof DrizzleQueryError) return true
  const code = (e as { code?: unknown }).code
  const command = (e as { command?: unknown }).command
  return (typeof code === 'string' && code.startsWith('SQLITE_')) || ('severity' in e && 'routine' in e) ||
    (command !== null && typeof command === 'object' && 'args' in command)
}

/** Schema names a driver error may carry (never a value): kept. */
const DRIVER_NAMES = ['code', 'constraint', 'table', 'column', 'schema', 'dataType', 'routine'] as const

/** Only the `at …` lines of a stack: its first line repeats the message. */
function frames (stack: unknown): string | undefined {
  return typeof stack === 'string' ? stack.split('\n').filter((l) => /^\s+at /.test(l)).join('\n') : undefined
}

interface SafeError { type: string, message: string, stack?: string | undefined, cause?: SafeError, [name: string]: unknown }

/**
 * An error as a log line may show it when a database driver's error is in its
 * chain. Such a message may quote the failed query's values: drizzle's lists
 * the bound parameters (password hashes, token keys), SQLite's repeats what a
 * trigger or CHECK says about the row, PostgreSQL's `detail` names the
 * offending key's value. So a driver error keeps its type, code, schema names
 * and stack frames, and its message only when the code says the storage is
 * unavailable (locked, I/O error, disk full, connection lost: fixed texts
 * that name no value, which tell an operator what to fix). The service's own
 * errors around it keep their messages (they never quote a value).
 */
function safeError (err: Error, depth = 0): SafeError {
  const type = err.constructor?.name ?? err.name
  const cause = (err as { cause?: unknown }).cause
  const next = depth < 5 && cause instanceof Error ? { cause: safeError(cause, depth + 1) } : {}
  if (!isDriverError(err)) {
    const code = (err as { code?: unknown }).code
    return { type, message: err.message, stack: frames(err.stack), ...(code === undefined ? {} : { code }), ...next }
  }
  if (err instanceof DrizzleQueryError) return { type, message: 'query failed (its text and values are not logged)', stack: frames(err.stack), ...next }
  const out: SafeError = { type, message: '', stack: frames(err.stack), ...next }
  for (const name of DRIVER_NAMES) {
    const value = (err as unknown as Record<string, unknown>)[name]
    if (typeof value === 'string') out[name] = value
  }
  const code = typeof out.code === 'string' ? out.code : ''
  out.message = SQLITE_UNAVAILABLE.test(code) || PG_UNAVAILABLE.test(code) ? err.message : 'the driver\'s message is not logged (it may quote the values of the failed query)'
  return out
}

function hasDriverError (err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 6; e = (e as { cause?: unknown }).cause, depth++) if (isDriverError(e)) return true
  return false
}

/**
 * pino's `err` serializer, except for errors with a database driver's error
 * in their chain (safeError): no value of a failed query reaches a log line.
 */
export function serializeError (err: Error): { type: string, message: string, stack: string, [key: string]: unknown } {
  if (!hasDriverError(err)) return pino.stdSerializers.err(err)
  const safe = safeError(err)
  return { ...safe, stack: safe.stack ?? '' }
}

/** The serializers of the service's logger (and every child of it). */
export const serializers = { err: serializeError }

/** Bytes gathered before a write to the log (a line is ~250 bytes). */
const LOG_MIN_LENGTH = 4096
/**
 * Most bytes waiting to be written: a reader of stdout that stops reading
 * (a full pipe) cannot make the service grow without bound. Lines beyond it
 * are dropped and counted (`dropped()`), never blocking a request.
 */
const LOG_MAX_LENGTH = 64 * 1024 * 1024
/** An idle service still writes what it has within this many milliseconds. */
const LOG_FLUSH_EVERY_MS = 1000

export interface LogDestination {
  /** The stream pino writes to (asynchronous, buffered). */
  stream: pino.DestinationStream
  /** Writes everything buffered, then resolves (shutdown). */
  flush: () => Promise<void>
  /** Lines dropped so far because the buffer was full. */
  dropped: () => number
}

/**
 * The service's log: pino's asynchronous destination on a file descriptor
 * (stdout by default), so that a request never waits for the write of its
 * line. Lines gather in memory and are written in batches off the request
 * path. `flush` writes what is left when the service shuts down; on any
 * other exit (process.exit, an exception close-with-grace did not get to)
 * the exit handler below writes it synchronously, so no line is lost.
 *
 * The lines of one event-loop turn reach the destination as one string.
 * Handed over one by one, each line would cost sonic-boom a pass over
 * everything it already holds (it measures the UTF-8 length of its whole last
 * chunk, kilobytes, on every write), on every request.
 */
export function createLogDestination (fd = 1): LogDestination {
  const sonic = pino.destination({ dest: fd, sync: false, minLength: LOG_MIN_LENGTH, maxLength: LOG_MAX_LENGTH, periodicFlush: LOG_FLUSH_EVERY_MS })
  let droppedLines = 0
  sonic.on('drop', (data: string | Buffer) => {
    for (const byte of Buffer.isBuffer(data) ? data : Buffer.from(data)) if (byte === 10) droppedLines++
  })
  let turn = ''
  let scheduled = false
  const handOver = (): void => {
    scheduled = false
    if (turn === '') return
    const lines = turn
    turn = ''
    sonic.write(lines)
  }
  // pino's own exit handler for the destination (registered before this one,
  // so it has run) wrote what sonic-boom held; this one writes the turn's lines.
  process.once('exit', () => {
    try {
      handOver()
      sonic.flushSync()
    } catch { /* closed or never opened: nothing can be written */ }
  })
  const stream: pino.DestinationStream = {
    write (line: string): void {
      turn += line
      if (!scheduled) {
        scheduled = true
        setImmediate(handOver)
      }
    }
  }
  return {
    stream,
    flush: async () => {
      handOver()
      await new Promise<void>((resolve) => { sonic.flush(() => { resolve() }) })
    },
    dropped: () => droppedLines
  }
}

/** An incoming X-Request-Id is kept when it is a plain token of at most 128 characters. */
const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/

/**
 * The id of a request: the caller's `X-Request-Id` (a gateway's, so that one
 * id follows the request through every service) when it is safe to log and
 * echo, otherwise a new UUID.
 */
export function requestId (header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID()
}

type Bindings = Parameters<FastifyBaseLogger['child']>[0]
type ChildOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>

/**
 * A request's logger (`request.log`), made only when the request logs
 * something. Fastify builds a pino child per request, which serialises its
 * bindings (the request id) through the redaction pass: a few microseconds on
 * every request, for a logger that most never use (the request line is written
 * by plugins/app/request-log.ts, on the app's logger). Used, it is that child.
 */
export class RequestLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined
  readonly #parent: FastifyBaseLogger
  readonly #bindings: Bindings
  readonly #options: ChildOptions

  constructor (parent: FastifyBaseLogger, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  get #logger (): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }

  get level (): string { return this.#child?.level ?? this.#options.level ?? this.#parent.level }
  set level (level: string) { this.#logger.level = level }

  fatal (...args: unknown[]): void { this.#call('fatal', args) }
  error (...args: unknown[]): void { this.#call('error', args) }
  warn (...args: unknown[]): void { this.#call('warn', args) }
  info (...args: unknown[]): void { this.#call('info', args) }
  debug (...args: unknown[]): void { this.#call('debug', args) }
  trace (...args: unknown[]): void { this.#call('trace', args) }
  silent (..._args: unknown[]): void {}

  #call (level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: unknown[]): void {
    const logger = this.#logger
    Reflect.apply(logger[level], logger, args)
  }

  child (bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#logger.child(bindings, options)
  }
}
