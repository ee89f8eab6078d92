import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import pino from 'pino'
import fp from 'fastify-plugin'

export const REQUEST_ID_HEADER = 'x-request-id'
const DEBUG_LEVELS = new Set(['debug', 'trace'])

// Registered by src/app.ts before every autoloaded folder, so that the routes
// and hooks of packages inherit it; the folder's autoload skips this file.
export const autoload = false

/**
 * One log line per completed request, in place of Fastify's two (its
 * "incoming request" and "request completed", disabled in src/app.ts): what
 * was asked (method, route pattern — never the query string or a body), how
 * it ended (status, milliseconds) and for whom (user id once authenticated).
 * The request id is on this line and on every line logged for the request;
 * it is echoed in `X-Request-Id` so that a client or gateway can quote it.
 */
export default fp(async (app) => {
  // The request line is built here from fields that cannot hold a secret (no
  // header, body or query; the request id is checked in src/log.ts), so it
  // needs neither the redaction pass nor pino's generic serialisation: it is
  // written as pino would write it — level, time, the logger's bindings (pid,
  // hostname), the fields, msg — straight to the logger's stream (a third of
  // pino's cost for this line in a one-off micro-benchmark).
  const requestLine = requestLineWriter(app.log)

  app.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id)
    // Only at debug: a line when a request starts, for following a slow one.
    if (DEBUG_LEVELS.has(request.log.level)) request.log.debug({ method: request.method, path: pathOf(request) }, 'request received')
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    requestLine(request, reply.statusCode, reply.elapsedTime)
    done()
  })
}, { name: 'request-log' })

/**
 * Writes `{"level":30,"time":…,"pid":…,"hostname":…,"reqId":…,"method":…,
 * "route":…,"status":…,"ms":…,"userId":…,"msg":"request"}`: what
 * `logger.info({ reqId, method, route, status, ms, userId }, 'request')` writes,
 * in the same order (a test compares the two), when the logger's level lets
 * info lines through. A 404 has no route: its path instead, without the query,
 * cut to 200 characters; `userId` once the request was authenticated.
 */
export function requestLineWriter (logger: FastifyBaseLogger): (request: FastifyRequest, status: number, elapsedMs: number) => void {
  const pinoLogger = logger as pino.Logger & Record<symbol, unknown>
  const stream = pinoLogger[pino.symbols.streamSym] as { write: (line: string) => void }
  const bindings = pinoLogger[pino.symbols.chindingsSym] as string
  if (typeof stream?.write !== 'function' || typeof bindings !== 'string') {
    // Not pino (an app built with `logger: false`): the same fields, through the logger.
    return (request, status, elapsedMs) => {
      const route = request.routeOptions.url
      logger.info({ reqId: request.id, method: request.method, ...(route === undefined ? { path: pathOf(request) } : { route }), status, ms: millis(elapsedMs), ...(request.user === undefined ? {} : { userId: request.user.id }) }, 'request')
    }
  }
  // Route patterns are few and fixed: each is escaped once.
  const routes = new Map<string, string>()
  return (request, status, elapsedMs) => {
    if (!pinoLogger.isLevelEnabled('info')) return
    const route = request.routeOptions.url
    let where: string
    if (route === undefined) {
      where = `"path":${JSON.stringify(pathOf(request))}`
    } else {
      let escaped = routes.get(route)
      if (escaped === undefined) routes.set(route, escaped = `"route":${JSON.stringify(route)}`)
      where = escaped
    }
    const userId = request.user?.id
    stream.write(`{"level":30,"time":${Date.now()}${bindings},"reqId":${JSON.stringify(request.id)},"method":${JSON.stringify(request.method)},${where},"status":${status},"ms":${millis(elapsedMs)}${userId === undefined ? '' : `,"userId":${JSON.stringify(userId)}`},"msg":"request"}\n`)
  }
}

/** Milliseconds to two decimals, as the line gives them. */
const millis = (ms: number): number => Math.round(ms * 100) / 100

/** A request's path for a log line: without its query string, at most 200 characters. */
export function pathOf (request: FastifyRequest): string {
  const url = request.url
  const query = url.indexOf('?')
  return (query === -1 ? url : url.slice(0, query)).slice(0, 200)
}
