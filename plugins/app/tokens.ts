import fp from 'fastify-plugin'
import { createSimplejwtExchange } from '../../src/django/simplejwt.js'
import type { LoginContext } from '../../src/sessions/sessions.js'
import type { TokenPair } from '../../src/tokens/claims.js'
import { createTokenService, tokenCodec, type TokenService } from '../../src/tokens/tokens.js'

/**
 * The token service, whose refresh also takes the request's login context:
 * the session of a simplejwt token's exchange (SIMPLEJWT_COMPAT, method
 * `django`) records it; a refresh of this service's own tokens ignores it.
 */
export type AppTokens = Omit<TokenService, 'refresh'> & { refresh: (token: string, exchange?: LoginContext) => Promise<TokenPair> }

declare module 'fastify' {
  interface FastifyInstance { tokens: AppTokens }
}

export default fp(async (app, opts: { nowMs?: () => number }) => {
  const service = createTokenService({
    store: app.store,
    accessLifetime: app.config.accessTokenLifetime,
    refreshLifetime: app.config.refreshTokenLifetime,
    reuseInterval: app.config.refreshReuseInterval,
    nowMs: opts.nowMs,
    // Logged (never with the token) and counted.
    onEvent: (event) => {
      if (event.event === 'refresh_grace_replay') {
        app.metrics.graceReplay()
        app.log.info(event, 'rotated refresh token replayed within the grace window')
      } else {
        app.metrics.reuseDetected()
        app.log.warn(event, 'revoked refresh token presented again: its login is revoked')
      }
    },
    requireVerifiedEmail: app.config.emailVerification === 'mandatory',
    issuer: app.config.jwtIssuer,
    audience: app.config.jwtAudience,
    // The keyring picks the key by the token's kid, refuses any other algorithm
    // than that key's, and remembers what it verified (src/keys/keyring.ts):
    // a remembered token is answered without a promise.
    codec: tokenCodec(app.keys)
  })
  // SIMPLEJWT_COMPAT: a refresh token of the Django deployment (recognised by
  // its shape) is exchanged once, or retired by a logout, instead of being
  // read as one of this service's.
  // Django's key is SIMPLEJWT_SIGNING_KEY; without it, JWT_SECRET (or the
  // generated secret), as before that variable existed.
  const compat = app.config.simplejwtCompat
    ? createSimplejwtExchange({
      secret: app.config.simplejwtSigningKey ?? app.keys.legacySecret,
      store: app.store,
      requireVerifiedEmail: app.config.emailVerification === 'mandatory'
    })
    : undefined
  app.decorate('tokens', compat === undefined
    ? service
    : {
        ...service,
        refresh: async (token: string, exchange?: LoginContext) => compat.recognises(token)
          ? await compat.exchange(token, (user) => service.newLogin(user, undefined, { session: { method: 'django', userAgent: exchange?.userAgent ?? null, ip: exchange?.ip ?? null } }))
          : await service.refresh(token),
        logout: async (token: string) => { await (compat.recognises(token) ? compat.logout(token) : service.logout(token)) }
      })

  // Expired rows (revoked refresh tokens too, once expired; mailed reset and
  // verification tokens) are purged at start and every TOKEN_PURGE_INTERVAL,
  // so no table grows without bound.
  app.schedulePurge('purging expired tokens failed', async () => {
    const purged = await service.purge()
    if (purged.expired + purged.legacyTokens > 0) app.log.info({ event: 'refresh_tokens_purged', count: purged.expired, ...purged }, 'expired refresh tokens purged')
    const accountTokens = await app.store.accountTokens.purgeExpired(Math.floor((opts.nowMs?.() ?? Date.now()) / 1000))
    if (accountTokens > 0) app.log.info({ event: 'account_tokens_purged', count: accountTokens }, 'expired account tokens purged')
  })
}, { name: 'tokens', dependencies: ['store', 'keys', 'metrics'] })
