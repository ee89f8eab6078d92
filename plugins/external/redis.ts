import { once } from 'node:events'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared Redis (REDIS_URL), or null for one instance with in-memory counters. */
    redis: Redis | null
    /** Whether Redis answers right now (no I/O: the connection's state); true without REDIS_URL. */
    redisReachable: () => boolean
  }
}

/** A Redis command waits this long at most: a request never hangs on Redis. */
const COMMAND_TIMEOUT_MS = 1000
/** Reconnection attempts back off up to this. */
const MAX_RECONNECT_DELAY_MS = 2000

/**
 * The shared Redis of several instances (rate-limit counters). Commands fail at
 * once while the connection is down (no offline queue, no retries): the
 * caller decides (rate limits fail closed or open). The client reconnects on
 * its own; each change of reachability is logged once, not per request.
 */
export default fp(async (app) => {
  const { redis: options } = app.config
  if (options === undefined) {
    app.decorate('redis', null)
    app.decorate('redisReachable', () => true)
    return
  }
  // Loaded only when used: ioredis is a noticeable share of a start.
  const { Redis: RedisClient } = await import('ioredis')
  const client = new RedisClient(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    lazyConnect: true
  })
  // Every route limited through Redis (login, join, password reset, verification resend, email change, password change, deletion).
  const failMode = app.config.rateLimitFailOpen ? 'rate-limited routes go through unlimited (RATE_LIMIT_FAIL_OPEN=true)' : 'rate-limited routes answer 503 (RATE_LIMIT_FAIL_OPEN=false)'
  let reachable = false
  client.on('ready', () => {
    if (!reachable) app.log.info({ redis: 'up' }, 'Redis reachable: rate limits are shared')
    reachable = true
  })
  const lost = (err?: Error): void => {
    if (reachable) app.log.warn({ redis: 'down', err: err === undefined ? undefined : { message: err.message, code: (err as { code?: string }).code } }, `Redis unreachable: ${failMode} until it is back`)
    reachable = false
  }
  client.on('error', lost)
  client.on('close', () => { lost() })

  // A start while Redis is down still serves (rate-limited routes per the
  // fail mode) and connects once Redis is back.
  try {
    await Promise.race([client.connect(), once(client, 'end')])
  } catch (err) {
    app.log.warn({ redis: 'down', err: { message: (err as Error).message } }, `Redis unreachable at start: ${failMode} until it is back`)
  }
  app.decorate('redis', client)
  // The client's own state; `reachable` above only remembers what was last logged.
  app.decorate('redisReachable', () => client.status === 'ready')
  app.addHook('onClose', async () => {
    client.removeAllListeners('close')
    if (client.status === 'ready') await client.quit().catch(() => { client.disconnect() })
    else client.disconnect()
  })
}, { name: 'redis' })
