import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import pino from 'pino'

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
