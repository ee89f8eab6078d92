import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit'
import { RateLimitedError } from '../../src/errors.js'

// Nothing is limited globally; routes opt in with `app.rateLimit(...)` hooks
// (login per IP and per email, join per IP). Counters live in memory, per process.
export const autoConfig: RateLimitPluginOptions = {
  global: false,
  errorResponseBuilder: (_req, context) => new RateLimitedError(Math.max(1, Math.ceil(context.ttl / 1000)))
}

export default rateLimit
