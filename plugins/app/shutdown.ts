import fp from 'fastify-plugin'
import { ShuttingDownError } from '../../src/errors.js'

/**
 * Graceful shutdown: once closing starts, every response still being served
 * carries `Connection: close`, so keep-alive clients do not hold the process
 * open until their idle timeout (Fastify only drops connections that are idle
 * at the moment close() begins). A request that arrives once closing has
 * begun (on a keep-alive connection) is refused with a retryable 503.
 */
export default fp(async (app) => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  // Callback hooks, not async ones: no promise for every request.
  app.addHook('onRequest', (_request, _reply, done) => {
    done(closing ? new ShuttingDownError() : undefined)
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close')
    done(null, payload)
  })
}, { name: 'shutdown' })
