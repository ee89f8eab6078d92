import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { normalizeEmail } from '../../src/accounts/accounts.js'
import { RateLimitedError } from '../../src/errors.js'

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The limits of a route that takes an email address in its body (login,
     * and the routes that mail an address: password reset, verification
     * resend, email change): `max` requests per RATE_LIMIT_WINDOW per client IP
     * (`onRequest`, before the body is read) and per address (`preHandler`,
     * once it is: `field` of the body, lower-cased), counted under
     * `<name>-ip:…` and `<name>-email:…`. One host spraying many addresses and
     * a botnet spraying one address both hit a wall.
     */
    ipAndEmailLimits: (name: string, max: number, field?: string) => { onRequest: Hook, preHandler: Hook }
    /** A limit of `max` requests per RATE_LIMIT_WINDOW per client IP (`onRequest`), counted under `<name>:…` (join). */
    ipLimit: (name: string, max: number) => { onRequest: Hook }
  }
}

// The hooks made here, so that the metrics plugin can tell which routes a
// limit may refuse (and show their auth_rate_limited_total at 0 from the start).
const limitHooks = new WeakSet<object>()
const tagged = (hook: Hook): Hook => { limitHooks.add(hook); return hook }

/** True for a hook made by ipAndEmailLimits or ipLimit. */
export const isRateLimitHook = (hook: unknown): boolean => typeof hook === 'function' && limitHooks.has(hook)

export default fp(async (app) => {
  app.decorate('ipAndEmailLimits', (name: string, max: number, field = 'email') => {
    const limit = { max, timeWindow: app.config.rateLimit.window * 1000 }
    // @fastify/rate-limit runs one limiter hook per request, so the second is
    // a check called from preHandler.
    const perEmail = app.createRateLimit({
      ...limit,
      keyGenerator: (req) => `${name}-email:${normalizeEmail((req.body as Record<string, string>)[field] ?? '')}`
    })
    return {
      onRequest: tagged(app.rateLimit({ ...limit, keyGenerator: (req) => `${name}-ip:${req.ip}` }) as Hook),
      preHandler: tagged(async function preHandler (request: FastifyRequest, reply: FastifyReply) {
        const state = await perEmail(request)
        if (!state.isAllowed && state.isExceeded) {
          void reply.header('retry-after', state.ttlInSeconds)
          throw new RateLimitedError(state.ttlInSeconds)
        }
      })
    }
  })
  app.decorate('ipLimit', (name: string, max: number) => ({
    onRequest: tagged(app.rateLimit({ max, timeWindow: app.config.rateLimit.window * 1000, keyGenerator: (req) => `${name}:${req.ip}` }) as Hook)
  }))
}, { name: 'rate-limits', dependencies: ['@fastify/rate-limit'] })
