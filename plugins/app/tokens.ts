import fp from 'fastify-plugin'
import { TokenExpiredError, TokenInvalidError } from '../../src/errors.js'
import { createTokenService, type TokenService } from '../../src/tokens.js'

declare module 'fastify' {
  interface FastifyInstance { tokens: TokenService }
}

/** Purge expired refresh-token rows hourly (and once at start) so the table stays small. */
const PURGE_EVERY_MS = 60 * 60 * 1000

export default fp(async (app) => {
  const tokens = createTokenService({
    store: app.store,
    accessLifetime: app.config.accessTokenLifetime,
    refreshLifetime: app.config.refreshTokenLifetime,
    codec: {
      sign: (claims) => app.jwt.sign(claims),
      verify (token, options) {
        try {
          return options?.ignoreExpiration === true ? app.jwt.verify(token, { ignoreExpiration: true }) : app.jwt.verify(token)
        } catch (err) {
          // fast-jwt's codes; everything but expiry is "invalid".
          if ((err as { code?: string }).code === 'FAST_JWT_EXPIRED') throw new TokenExpiredError()
          throw new TokenInvalidError('Token is invalid.')
        }
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
}, { name: 'tokens', dependencies: ['store', '@fastify/jwt'] })
