import { createServer, type Server } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { isRateLimitHook } from './rate-limits.js'

/**
 * Counters for the security events no answer shows (`app.metrics.reuseDetected()`,
 * called by plugins/app/tokens.ts): no-ops when METRICS is off. What an answer
 * shows (logins, refreshes, rate limits) is counted by this plugin's own hook.
 */
export interface Metrics {
  graceReplay: () => void
  reuseDetected: () => void
}

declare module 'fastify' {
  interface FastifyInstance { metrics: Metrics }
}

const noop = (): void => {}
const disabled: Metrics = { graceReplay: noop, reuseDetected: noop }

/** Prometheus metrics (prom-client), each app with a registry of its own. */
async function createMetrics (app: FastifyInstance) {
  // Loaded only when enabled: prom-client adds a noticeable share of a start.
  const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = await import('prom-client')
  const registry = new Registry()
  // Process metrics (CPU, memory, file descriptors, GC) and event-loop lag.
  collectDefaultMetrics({ register: registry })
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer a request, by route pattern and status.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry]
  })
  const logins = new Counter({ name: 'auth_logins_total', help: 'Logins, by result (success, failure).', labelNames: ['result'] as const, registers: [registry] })
  const refreshes = new Counter({ name: 'auth_token_refreshes_total', help: 'Refreshes answered 200: rotations and grace-window replays.', registers: [registry] })
  const graceReplays = new Counter({ name: 'auth_refresh_grace_replays_total', help: 'Refresh tokens presented again within the grace window.', registers: [registry] })
  const reuses = new Counter({ name: 'auth_refresh_reuse_detections_total', help: 'Revoked refresh tokens presented again (their family is revoked).', registers: [registry] })
  const rateLimited = new Counter({ name: 'auth_rate_limited_total', help: 'Requests refused by a rate limit, by route.', labelNames: ['route'] as const, registers: [registry] })
  // Mails are counted by the mailer itself (it counts its retries' outcomes);
  // read at each scrape, so both series exist at 0 before the first mail.
  const mailStats = app.mailer.stats
  registry.registerMetric(new Counter({
    name: 'auth_mail_sent_total',
    help: 'Mails delivered (to SMTP_URL, or written to the outbox).',
    registers: [],
    collect () { this.reset(); this.inc(mailStats.sent) }
  }))
  registry.registerMetric(new Counter({
    name: 'auth_mail_failed_total',
    help: 'Mails given up after their retries (or dropped at shutdown).',
    registers: [],
    collect () { this.reset(); this.inc(mailStats.failed) }
  }))
  const passwords = app.passwords
  registry.registerMetric(new Gauge({
    name: 'auth_argon2_queue_length',
    help: 'Password hashes waiting for a free hashing slot.',
    registers: [],
    collect () { this.set(passwords.queueLength) }
  }))
  const metrics: Metrics = {
    graceReplay: () => { graceReplays.inc() },
    reuseDetected: () => { reuses.inc() }
  }
  return { registry, metrics, duration, logins, refreshes, rateLimited }
}

/**
 * METRICS=true: GET /metrics in Prometheus' text format, on the service's own
 * port, or alone on METRICS_PORT (same host) so that it need not be public.
 */
export default fp(async (app) => {
  const { enabled, port } = app.config.metrics
  if (!enabled) {
    app.decorate('metrics', disabled)
    return
  }
  const { metrics, registry, duration, logins, refreshes, rateLimited } = await createMetrics(app)
  app.decorate('metrics', metrics)

  // Every rate-limited route's series exists at 0 from the start, so that a
  // rate() or an alert on it has a series before the first 429.
  app.addHook('onRoute', (route) => {
    const hooks = [route.onRequest, route.preHandler].flat().filter((h) => h !== undefined)
    if (hooks.some(isRateLimitHook)) rateLimited.inc({ route: route.url }, 0)
  })

  // Outcomes the routes already answer are counted here, by route and status,
  // so that no handler has to know about metrics.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const status = reply.statusCode
    duration.observe({ method: request.method, route, status_code: status }, reply.elapsedTime / 1000)
    if (status === 429) rateLimited.inc({ route })
    if (route === '/account/login') {
      if (status === 200) logins.inc({ result: 'success' })
      else if (status === 401 || status === 403) logins.inc({ result: 'failure' })
    } else if (route === '/account/token/refresh' && status === 200) {
      refreshes.inc()
    }
    done()
  })

  const render = async (): Promise<{ type: string, body: string }> => ({ type: registry.contentType, body: await registry.metrics() })

  if (port === undefined) {
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      const { type, body } = await render()
      return await reply.type(type).header('cache-control', 'no-store').send(body)
    })
    return
  }
  let server: Server | undefined
  app.addHook('onListen', async () => {
    server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n')
        return
      }
      render().then(({ type, body }) => { res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body) },
        () => { res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n') })
    })
    const listening = server
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject)
      listening.listen(port, app.config.host, () => { listening.off('error', reject); resolve() })
    })
    app.log.info({ port: (listening.address() as { port: number }).port }, 'metrics listening')
  })
  app.addHook('onClose', async () => {
    const s = server
    if (s !== undefined) await new Promise<void>((resolve) => { s.close(() => { resolve() }); s.closeAllConnections() })
  })
}, { name: 'metrics', dependencies: ['passwords', 'mailer', 'rate-limits'] })
