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
    /**
     * A `preHandler` (after `app.authenticate`) for the routes that check the
     * current password of the authenticated user (password change, email
     * change, account deletion): RATE_LIMIT_PASSWORD_CHECK_MAX checks per
     * RATE_LIMIT_WINDOW per user, all those routes together, counted under
     * `password-check:<user id>` (in Redis with REDIS_URL). Every check counts,
     * right or wrong, before the password is verified: someone holding a
     * stolen session cannot guess the password at any speed.
     */
    passwordCheckLimit: Hook
  }
}

/** A check's answer (createRateLimit's) beyond its limit: 429 RATE_LIMITED with Retry-After. */
async function refuseBeyond (state: { isAllowed: boolean, isExceeded?: boolean, ttlInSeconds?: number }, reply: FastifyReply): Promise<void> {
  if (!state.isAllowed && state.isExceeded === true) {
    const seconds = Math.max(1, state.ttlInSeconds ?? 1)
    void reply.header('retry-after', seconds)
    throw new RateLimitedError(seconds)
  }
}

// The hooks made here, so that the metrics plugin can tell which routes a
// limit may refuse (and show their auth_rate_limited_total at 0 from the start).
const limitHooks = new WeakSet<object>()
const tagged = (hook: Hook): Hook => { limitHooks.add(hook); return hook }

/** True for a hook made by ipAndEmailLimits, ipLimit or passwordCheckLimit. */
export const isRateLimitHook = (hook: unknown): boolean => typeof hook === 'function' && limitHooks.has(hook)

export default fp(async (app) => {
  const perUser = app.createRateLimit({
    max: app.config.passwordCheckMax,
    timeWindow: app.config.rateLimit.window * 1000,
    keyGenerator: (req) => `password-check:${req.user.id}`
  })
  app.decorate('passwordCheckLimit', tagged(async (request: FastifyRequest, reply: FastifyReply) => {
    await refuseBeyond(await perUser(request), reply)
  }))

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
        await refuseBeyond(await perEmail(request), reply)
      })
    }
  })
  app.decorate('ipLimit', (name: string, max: number) => ({
    onRequest: tagged(app.rateLimit({ max, timeWindow: app.config.rateLimit.window * 1000, keyGenerator: (req) => `${name}:${req.ip}` }) as Hook)
  }))
}, { name: 'rate-limits', dependencies: ['@fastify/rate-limit'] })
