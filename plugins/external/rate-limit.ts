import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { RateLimitedError, StorageUnavailableError } from '../../src/errors.js'

/**
 * INCR and PEXPIRE in one step (as @fastify/rate-limit's own Redis store does):
 * the first hit of a window starts its expiry, later ones read what is left.
 */
const INCR_LUA = `
local current = redis.call('INCR', KEYS[1])
local ttl
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
else
  ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
  end
end
return {current, ttl}`

/**
 * Counters in Redis, shared by every instance, under `prefix` + the route's
 * key (login-ip:…, login-email:…, join:…). A Redis failure becomes a 503
 * SERVICE_UNAVAILABLE with Retry-After (the error handler's storage case)
 * unless RATE_LIMIT_FAIL_OPEN lets the request through (skipOnError).
 */
function redisStore (redis: Redis, prefix: string): FastifyRateLimitStoreCtor {
  return class SharedRateLimitStore implements FastifyRateLimitStore {
    incr (key: string, callback: (error: Error | null, result?: { current: number, ttl: number }) => void, timeWindow: number): void {
      redis.eval(INCR_LUA, 1, prefix + key, timeWindow).then((result) => {
        const [current, ttl] = result as [number, number]
        callback(null, { current, ttl })
      }, (err: Error) => { callback(new StorageUnavailableError({ cause: err })) })
    }

    // Every limiter of the service names its keys itself (login-ip:, join:…).
    child (): FastifyRateLimitStore { return this }
  }
}

// Nothing is limited globally; routes opt in with `app.rateLimit(...)` hooks
// (join per IP; login, password reset, verification resend and email change
// per IP and per address through plugins/app/rate-limits.ts). Counters live in memory, per
// process, or in Redis when REDIS_URL is set (several instances).
export default fp(async (app: FastifyInstance) => {
  const { redis } = app
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000))),
    ...(redis === null ? {} : { store: redisStore(redis, `${app.config.redis?.keyPrefix ?? ''}rl:`) }),
    // Fail open: a Redis failure lets the request through, unlimited (logged once by plugins/external/redis.ts).
    skipOnError: app.config.rateLimitFailOpen
  })
}, { name: 'rate-limit', dependencies: ['redis'] })
