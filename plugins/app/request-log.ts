import type { FastifyRequest } from 'fastify'
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
  // header, body or query; the request id is checked in src/log.ts), so it is
  // written by a logger without the redaction pass that every other line pays
  // (pino runs its wildcard paths over each field: half of the line's cost).
  const requestLines = app.log.child({}, { redact: [] })

  app.addHook('onRequest', (request, reply, done) => {
    void reply.header(REQUEST_ID_HEADER, request.id)
    // Only at debug: a line when a request starts, for following a slow one.
    if (DEBUG_LEVELS.has(request.log.level)) request.log.debug({ method: request.method, path: pathOf(request) }, 'request received')
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const line: RequestLine = { reqId: request.id, method: request.method }
    const route = request.routeOptions.url
    // A 404 has no route: its path, without the query, cut to 200 characters.
    if (route === undefined) line.path = pathOf(request)
    else line.route = route
    line.status = reply.statusCode
    line.ms = Math.round(reply.elapsedTime * 100) / 100
    const userId = request.user?.id
    if (userId !== undefined) line.userId = userId
    requestLines.info(line, 'request')
    done()
  })
}, { name: 'request-log' })

interface RequestLine { reqId: string, method: string, route?: string, path?: string, status?: number, ms?: number, userId?: string }

/** A request's path for a log line: without its query string, at most 200 characters. */
export function pathOf (request: FastifyRequest): string {
  const url = request.url
  const query = url.indexOf('?')
  return (query === -1 ? url : url.slice(0, query)).slice(0, 200)
}
