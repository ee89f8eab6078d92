import fp from 'fastify-plugin'

/**
 * Graceful shutdown: once closing starts, every response still being served
 * carries `Connection: close`, so keep-alive clients do not hold the process
 * open until their idle timeout (Fastify only drops connections that are idle
 * at the moment close() begins).
 */
export default fp(async (app) => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) void reply.header('connection', 'close')
  })
}, { name: 'shutdown' })
