import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import autoload from '@fastify/autoload'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import Fastify, { LogController } from 'fastify'
import type { DestinationStream } from 'pino'
import fp from 'fastify-plugin'
import errors from '../plugins/app/errors.js'
import requestLog from '../plugins/app/request-log.js'
import helmet from '../plugins/external/helmet.js'
import type { Config } from './config.js'
import { redact, RequestLogger, requestId, serializers } from './log.js'
import { codeRoot, fromSources } from './paths.js'
import { lazySchemaCompilers, type LazyCompilers } from './schema-compilers.js'
import { securityHeaders as securityHeadersFor } from './security-headers.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /**
     * The route schemas' compilers (src/schema-compilers.ts): what is not
     * compiled yet, and compiling all of it now.
     */
    schemaCompilers: Pick<LazyCompilers, 'compileAll' | 'remaining'>
  }
}

export const BODY_LIMIT = 16 * 1024

/** How long after listening the background compile of the route schemas starts. */
export const BACKGROUND_COMPILE_DELAY_MS = 200

// From TypeScript sources (tests, `npm run dev`) a loader (tsx) compiles `.ts`
// files; autoload cannot detect every loader, so say it.
if (fromSources) process.env.FASTIFY_AUTOLOAD_TYPESCRIPT ??= '1'

/**
 * What Node's HTTP parser refuses before a request exists (headers over 16 KiB,
 * bytes not allowed in HTTP, smuggling shapes, a client too slow to send its
 * headers), answered in the contract's error shape rather than Fastify's
 * default body without `code`, with the security headers of every other
 * answer. The connection is then closed, as Node's own default does.
 */
function clientErrorHandler (securityHeaders: Record<string, string>): (err: NodeJS.ErrnoException, socket: Socket) => void {
  const extra = Object.entries(securityHeaders).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const [statusCode, code, message] = err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'REQUEST_HEADER_FIELDS_TOO_LARGE', 'Request headers are larger than 16 KiB.']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'The request was not received in time.']
        : [400, 'VALIDATION_ERROR', 'Malformed HTTP request.']
    const error = STATUS_CODES[statusCode] ?? 'Error'
    // Every VALIDATION_ERROR has details: here the parser's reason (llhttp's
    // fixed wording, e.g. "Invalid header token", never request bytes).
    const given = (err as { reason?: unknown }).reason
    const reason = typeof given === 'string' ? given : err.code ?? 'unknown'
    const details = code === 'VALIDATION_ERROR' ? [{ field: 'request', message: `is not valid HTTP/1.1: ${reason}` }] : undefined
    const body = JSON.stringify({ statusCode, error, code, message, ...(details === undefined ? {} : { details }) })
    if (!socket.writable) { socket.destroy(); return }
    socket.end(`HTTP/1.1 ${statusCode} ${error}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`)
  }
}

export function loggerOptions (config: Config, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return { level: config.logLevel, redact, serializers, ...(stream === undefined ? {} : { stream }) }
}

/**
 * What every answer carries: the contract's error and not-found handlers, the
 * X-Request-Id, the security headers. Registered before anything else, because
 * Fastify gives a route the error handler in force when the route is added, and
 * runs onRequest hooks in the order they were added: so the routes and hooks of
 * the packages in plugins/external inherit them too (@fastify/cors's `OPTIONS *`
 * route and the preflight answer its hook sends, @fastify/swagger-ui's /docs).
 * These files say `autoload = false`; the plugins that rely on them name them
 * as dependencies.
 */
const answerBasics = [errors, requestLog, helmet]

/**
 * The whole service as one plugin: what every answer carries, then external
 * packages, then the app's own plugins, then the routes — each folder
 * autoloaded, so adding a file is enough.
 */
export const serviceApp = fp(async function serviceApp (app: FastifyInstance, opts: { config: Config, nowMs?: () => number }) {
  app.decorate('config', opts.config)
  for (const plugin of answerBasics) await app.register(plugin)
  const dirs = ['plugins/external', 'plugins/app']
  for (const dir of dirs) {
    await app.register(autoload, { dir: join(codeRoot, dir), options: { config: opts.config, nowMs: opts.nowMs }, forceESM: true })
  }
  await app.register(autoload, {
    dir: join(codeRoot, 'routes'),
    options: { config: opts.config },
    forceESM: true,
    autoHooks: true,
    cascadeHooks: true
  })
}, { name: 'service-app' })

export interface BuildOptions {
  /**
   * Where log lines go: the server's asynchronous destination (src/log.ts),
   * a test's capturing stream; stdout, written synchronously, by default.
   */
  logStream?: DestinationStream
  /** The token service's clock (milliseconds since the epoch); tests move it instead of sleeping. */
  nowMs?: () => number
}

export async function buildApp (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> {
  const securityHeaders = securityHeadersFor(config)
  const compilers = lazySchemaCompilers()
  const app = Fastify({
    logger: loggerOptions(config, options.logStream),
    // One line per request, written by plugins/app/request-log.ts, instead of
    // Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // X-Request-Id: the caller's when it is safe to log, else a new UUID.
    requestIdHeader: false,
    genReqId: (req) => requestId(req.headers['x-request-id']),
    // request.log is made when first used (most requests never log a line of their own).
    childLoggerFactory: (logger, bindings, options) => new RequestLogger(logger, bindings, options),
    bodyLimit: BODY_LIMIT,
    // Fastify's default of 10 s per plugin is too short on a small machine busy
    // with other work (seen: the autoload of every plugin at once on 2 loaded
    // cores); a start that hangs still fails, after a minute.
    pluginTimeout: 60_000,
    // A hop count is valid for proxy-addr though Fastify's types omit it.
    trustProxy: config.trustProxy as boolean | string,
    // Closing: finish in-flight requests, drop idle keep-alives; new requests get
    // a 503 from plugins/app/shutdown.ts (Fastify's own 503 lacks the contract's
    // shape and Retry-After).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // A malformed URL (bad %-encoding) is answered by the error handler, in the
    // contract's shape, not with Fastify's own body (code FST_ERR_BAD_URL); no
    // hook has run, so the security headers are set here.
    frameworkErrors: (err, request, reply) => {
      void reply.headers(securityHeaders).header('x-request-id', request.id)
      void request.server.errorHandler(err, request, reply)
    },
    clientErrorHandler: clientErrorHandler(securityHeaders),
    ajv: {
      // Bodies are checked as sent: no type coercion, no silent removal of
      // unknown fields (they are an error), every problem reported at once.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: true }
    },
    // Each route's schemas compiled at its first request, not at start.
    schemaController: { compilersFactory: compilers.factories }
  })
  app.decorate('schemaCompilers', { compileAll: compilers.compileAll, remaining: compilers.remaining })
  // Listening: the schemas no request has used yet are compiled between
  // requests, from a moment after the start, so that the first requests (a
  // gateway's health checks) do not wait for the first step, which loads ajv
  // and fast-json-stringify.
  let stopCompiling: (() => void) | undefined
  app.addHook('onListen', async () => {
    stopCompiling = compilers.compileInBackground((err, where) => {
      app.log.error({ event: 'schema_not_compiled', where, err }, `the schema of ${where} does not compile: its requests fail (500)`)
    }, BACKGROUND_COMPILE_DELAY_MS)
  })
  app.addHook('onClose', async () => { stopCompiling?.() })
  await app.register(serviceApp, { config, nowMs: options.nowMs })
  return app
}
