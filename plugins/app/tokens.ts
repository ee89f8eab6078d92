import fp from 'fastify-plugin'
import { verifiedTokenCache } from '../../src/token-cache.js'
import { createTokenService, type TokenService } from '../../src/tokens.js'

declare module 'fastify' {
  interface FastifyInstance { tokens: TokenService }
}

/** Purge expired refresh-token rows hourly (and once at start) so the table stays small. */
const PURGE_EVERY_MS = 60 * 60 * 1000

/** Tokens remembered as verified (see src/token-cache.ts): about 1 KB each. */
const VERIFIED_CACHE_SIZE = 2048

export default fp(async (app) => {
  const verified = verifiedTokenCache(VERIFIED_CACHE_SIZE)
  let keysGeneration = app.keys.generation
  const tokens = createTokenService({
    store: app.store,
    accessLifetime: app.config.accessTokenLifetime,
    refreshLifetime: app.config.refreshTokenLifetime,
    codec: {
      sign: (claims) => app.keys.sign(claims),
      async verify (token, options) {
        const ignoreExpiration = options?.ignoreExpiration === true
        if (app.keys.generation !== keysGeneration) {
          // A key left the set (rotation overlap over, or withdrawn): no token it verified may skip the check.
          verified.clear()
          keysGeneration = app.keys.generation
        }
        const cached: unknown = ignoreExpiration ? undefined : verified.get(token)
        if (cached !== undefined) return cached
        // Picks the key by the token's kid and refuses any other algorithm than that key's.
        const payload = await app.keys.verify(token, { ignoreExpiration })
        // Access tokens only: a refresh token is presented once (rotation), so
        // remembering it would only churn the cache.
        if (!ignoreExpiration && (payload as { token_type?: unknown } | null)?.token_type === 'access') verified.set(token, payload)
        return payload
      }
    }
  })
  app.decorate('tokens', tokens)

  const purge = async (): Promise<void> => {
    try {
      const purged = await tokens.purgeExpired()
      if (purged > 0) app.log.info({ event: 'refresh_tokens_purged', count: purged }, 'expired refresh tokens purged')
    } catch (err) {
      app.log.warn({ err }, 'purging expired refresh tokens failed')
    }
  }
  app.addHook('onReady', purge)
  const timer = setInterval(() => { void purge() }, PURGE_EVERY_MS).unref()
  app.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'tokens', dependencies: ['store', 'keys'] })
