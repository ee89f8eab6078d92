import fp from 'fastify-plugin'
import { createSignIn } from '../../src/accounts/sign-in.js'
import { createPasskeyService, type PasskeyService } from '../../src/passkeys/passkeys.js'

declare module 'fastify' {
  interface FastifyInstance {
    passkeys: PasskeyService
  }
}

/**
 * Passkeys (src/passkeys/): the service and the
 * purge of expired challenges (at start and every TOKEN_PURGE_INTERVAL). With
 * an IP-address RP ID the routes answer 501; the start says so once.
 */
export default fp(async (app, opts: { nowMs?: () => number }) => {
  const { config } = app
  app.decorate('passkeys', createPasskeyService({
    store: app.store,
    signIn: createSignIn({ store: app.store, tokens: app.tokens, emailVerification: config.emailVerification, ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs }) }),
    config: config.webauthn,
    nowMs: opts.nowMs,
    onEvent: (event) => {
      if (event.event === 'passkey_counter_regressed') app.log.warn(event, 'passkey signature counter went back: a cloned authenticator? sign-in refused')
      else app.log.info(event, 'passkey refused')
    }
  }))

  if (config.webauthn.unavailable !== undefined) {
    // Info, not a warning: it is the default (PUBLIC_URL http://127.0.0.1:3000/),
    // and a default start stays free of warnings.
    app.log.info({ event: 'passkeys_unavailable' }, `passkeys are off: ${config.webauthn.unavailable}`)
  }
  app.schedulePurge('purging expired passkey challenges failed', async () => {
    const purged = await app.passkeys.purgeChallenges()
    if (purged > 0) app.log.info({ event: 'webauthn_challenges_purged', count: purged }, 'expired passkey challenges purged')
  })
}, { name: 'passkeys', dependencies: ['store', 'tokens'] })
