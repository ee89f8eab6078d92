import { randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { SocialProfile, SocialSignIn } from '../../src/accounts/social-accounts.js'
import { MfaRequiredError, SocialProviderNotFoundError } from '../../src/errors.js'
import { createSealer } from '../../src/keys/seal.js'
import { loginContext } from '../../src/sessions/sessions.js'
import { createSocialClients, formPost, type SocialClient } from '../../src/social/providers.js'
import { STATE_COOKIE, STATE_KEY_NAME, STATE_LIFETIME } from '../../src/social/state.js'

export interface SocialLogin {
  /** The configured providers, in SOCIAL_PROVIDERS's order. */
  clients: Map<string, SocialClient>
  /** The provider of that name; 404 NOT_FOUND for a name not configured. */
  client: (name: string) => SocialClient
  /** `<PUBLIC_URL>account/social/<name>/callback`: the redirect URL registered at the provider. */
  callbackUrl: (name: string) => string
  /** The key that seals the state cookie (src/social/state.ts), shared by every instance through the database. */
  stateKey: () => Promise<Buffer>
  /** Sets (`value`) or expires the state cookie; `provider` says which SameSite it needs. */
  stateCookie: (reply: FastifyReply, value?: string, provider?: string) => FastifyReply
  /**
   * Every social login goes through here (the browser callback and POST
   * …/token): the account service's socialSignIn, then the audit lines
   * (`user_joined`, `social_linked` when an account was linked by its
   * verified address, and `login` with method `social:<name>`), or
   * MFA_REQUIRED (SOCIAL_MFA, a user with TOTP on; `mfa_required`).
   */
  signIn: (request: FastifyRequest, profile: SocialProfile) => Promise<SocialSignIn>
}

declare module 'fastify' {
  interface FastifyInstance { social: SocialLogin }
}

/** Social login (src/social/): the provider clients, the state cookie's key, the one sign-in path. */
export default fp(async (app, opts: { nowMs?: () => number }) => {
  const { config } = app
  const clients = createSocialClients(config.social, {
    ...(opts.nowMs === undefined ? {} : { nowMs: opts.nowMs }),
    // The reason only: never a token, code or secret.
    onEvent: (event) => { app.log.info(event, 'social sign-in refused') }
  })
  let key: Promise<Buffer> | undefined
  // Sealed at rest with JWT_KEYS_ENCRYPTION_KEY when that is set, as the other service secrets.
  const sealer = createSealer(config.jwtKeysEncryptionKey)
  const stateKey = async (): Promise<Buffer> => {
    key ??= app.store.serviceSecrets.getOrAdd(STATE_KEY_NAME, sealer.seal(randomBytes(32).toString('base64url')), Math.floor(Date.now() / 1000))
      .then((value) => Buffer.from(sealer.open(value), 'base64url'))
      .catch((err: unknown) => { key = undefined; throw err })
    return await key
  }
  // Sent back by the browser on the provider's redirect to the callback, a
  // cross-site top-level navigation: Lax (or None where the service's cookies are None).
  const cookieOptions = {
    httpOnly: true,
    secure: config.cookieSecure,
    sameSite: config.cookieSameSite === 'none' ? 'none' as const : 'lax' as const,
    path: '/account/social'
  }
  // A provider answering with a cross-site form POST (Apple): browsers send a
  // Lax cookie only on top-level GETs, so its state cookie is SameSite=None,
  // which they keep only when Secure (Apple requires https anyway). The
  // sealed state and the `state` it must match keep it from being used by
  // another site.
  const formPostOptions = { ...cookieOptions, ...(config.cookieSecure ? { sameSite: 'none' as const } : {}) }

  app.decorate('social', {
    clients,
    client: (name: string) => clients.get(name) ?? (() => { throw new SocialProviderNotFoundError() })(),
    callbackUrl: (name: string) => new URL(`account/social/${name}/callback`, config.publicUrl).toString(),
    stateKey,
    stateCookie: (reply: FastifyReply, value?: string, provider?: string) => {
      const client = provider === undefined ? undefined : clients.get(provider)
      const options = client !== undefined && formPost(client.config) ? formPostOptions : cookieOptions
      return value === undefined
        ? reply.setCookie(STATE_COOKIE, '', { ...options, maxAge: 0 })
        : reply.setCookie(STATE_COOKIE, value, { ...options, maxAge: STATE_LIFETIME })
    },
    async signIn (request: FastifyRequest, profile: SocialProfile) {
      const method = `social:${profile.provider}`
      try {
        const result = await app.accounts.socialSignIn(profile, loginContext(method, request))
        const about = { userId: result.user.id, provider: profile.provider, ip: request.ip }
        if (result.created) request.log.info({ event: 'user_joined', method, ...about }, 'user joined')
        if (result.linked) request.log.info({ event: 'social_linked', automatic: true, ...about }, 'social login linked by its verified address')
        request.log.info({ event: 'login', method, userId: result.user.id, ip: request.ip }, 'login succeeded')
        return result
      } catch (err) {
        // The provider vouched for the user, who has TOTP on (SOCIAL_MFA): not a
        // failure, the login goes on at POST /account/login/mfa.
        if (err instanceof MfaRequiredError) {
          request.log.info({ event: 'mfa_required', method, userId: err.userId, ip: request.ip }, 'login waits for a second factor')
          throw err
        }
        request.log.info({ event: 'login_failed', method, code: (err as { code?: string }).code, ip: request.ip }, 'login failed')
        throw err
      }
    }
  })

  if (clients.size > 0) {
    app.addHook('onReady', async () => {
      // Made (or read) at start, so that the first sign-in does not wait; a storage
      // that cannot be reached now is asked again at the first sign-in.
      await stateKey().catch(() => {})
    })
  }
}, { name: 'social', dependencies: ['store', 'accounts', 'auth-cookies'] })
