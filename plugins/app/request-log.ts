import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

export const REQUEST_ID_HEADER = 'x-request-id'
const DEBUG_LEVELS = new Set(['debug', 'trace'])

/**
 * One log line per completed request, in place of Fastify's two (its
 * "incoming request" and "request completed", disabled in src/app.ts): what
 * was asked (method, route pattern — never the query string or a body), how
 * it ended (status, milliseconds) and for whom (user id once authenticated).
 * The request id is on this line and on every line logged for the request;
 * it is echoed in `X-Request-Id` so that a client or gateway can quote it.
 */
export default fp(async (app) => {
  app.addHook('onRequest', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id)
    // Only at debug: a line when a request starts, for following a slow one.
    if (DEBUG_LEVELS.has(request.log.level)) request.log.debug({ method: request.method, path: pathOf(request) }, 'request received')
  })
  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url
    request.log.info({
      method: request.method,
      // A 404 has no route: its path, without the query, cut to 200 characters.
      ...(route === undefined ? { path: pathOf(request) } : { route }),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      ...(request.user?.id === undefined ? {} : { userId: request.user.id })
    }, 'request')
  })
}, { name: 'request-log' })

function pathOf (request: FastifyRequest): string {
  const url = request.url
  const query = url.indexOf('?')
  return (query === -1 ? url : url.slice(0, query)).slice(0, 200)
}
