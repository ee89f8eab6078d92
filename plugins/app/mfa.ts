import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { RateLimitedError } from '../../src/errors.js'
import { createSealer } from '../../src/keys/seal.js'
import { createMfaService, type MfaService } from '../../src/mfa/mfa.js'

declare module 'fastify' {
  interface FastifyInstance {
    mfa: MfaService
    /**
     * The per-user limit of POST /account/login/mfa (`preHandler`): the user
     * is the one its mfa_token is for; RATE_LIMIT_LOGIN_MAX attempts per
     * RATE_LIMIT_WINDOW per user, counted under `login-mfa-user:<id>`, right
     * codes or wrong. A token that is no longer usable is not counted (it is
     * refused without looking at any code).
     */
    mfaAttemptLimit: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

/**
 * The second factor (src/mfa/): the service, the per-user attempt limit of
 * its login step, and the purge of expired logins waiting for a code (at
 * start and every TOKEN_PURGE_INTERVAL).
 */
export default fp(async (app, opts: { nowMs?: () => number }) => {
  const { config } = app
  app.decorate('mfa', createMfaService({
    store: app.store,
    hasher: app.passwords,
    sealer: createSealer(config.jwtKeysEncryptionKey),
    issuer: config.mfaIssuer,
    ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs })
  }))

  // The user a request's mfa_token is for, found by the hook for the key.
  const userOf = new WeakMap<FastifyRequest, string>()
  const perUser = app.createRateLimit({
    max: config.rateLimit.loginMax,
    timeWindow: config.rateLimit.window * 1000,
    keyGenerator: (req) => `login-mfa-user:${userOf.get(req) ?? ''}`
  })
  app.decorate('mfaAttemptLimit', async (request: FastifyRequest, reply: FastifyReply) => {
    const userId = await app.mfa.challengeUser((request.body as { mfa_token: string }).mfa_token)
    if (userId === undefined) return
    userOf.set(request, userId)
    const state = await perUser(request)
    if (!state.isAllowed && state.isExceeded === true) {
      const seconds = Math.max(1, state.ttlInSeconds ?? 1)
      void reply.header('retry-after', seconds)
      throw new RateLimitedError(seconds)
    }
  })

  app.schedulePurge('purging expired second-factor logins failed', async () => {
    const purged = await app.mfa.purgeChallenges()
    if (purged > 0) app.log.info({ event: 'mfa_challenges_purged', count: purged }, 'expired logins waiting for a second factor purged')
  })
}, { name: 'mfa', dependencies: ['store', 'passwords', 'rate-limits'] })
