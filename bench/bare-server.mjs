// The ceiling of `npm run bench`: Fastify 5 with no plugin, no hook and no
// logging, answering GET /health with the service's body and response schema.
// bench/run.ts starts it exactly as it starts the service (same node flags, a
// free loopback port from PORT) and loads it with the same `health` scenario,
// so every figure can be read against what Fastify itself allows on this
// machine at that moment.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/health', {
  schema: { response: { 200: { type: 'object', properties: { status: { type: 'string', const: 'ok' } }, required: ['status'] } } }
}, async () => ({ status: 'ok' }))
await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) })
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => { void app.close().then(() => process.exit(0)) })
