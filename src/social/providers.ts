import type { SocialProfile } from '../accounts/social-accounts.js'
import { SocialDeniedError, SocialProviderUnavailableError, SocialTokenInvalidError } from '../errors.js'
import { appleClientSecret } from './apple.js'
import type { OAuthProviderConfig, OidcProviderConfig, SocialConfig, SocialProviderConfig } from './config.js'
import { IdTokenError, idTokenVerifier } from './id-token.js'

/*
 * The providers' side of social login: the authorization request (PKCE S256,
 * state, nonce), the callback's code exchange with the ID token verified by
 * openid-client (signature against the provider's JWKS, iss, aud, exp, nonce),
 * GitHub's and Naver's user endpoints, and the tokens native apps post. What
 * comes out is a SocialProfile the accounts side trusts.
 *
 * openid-client is loaded at the first sign-in, not at start (as
 * @simplewebauthn/server for passkeys): a service without providers never loads it.
 */

type OpenidClient = typeof import('openid-client')
let library: Promise<OpenidClient> | undefined
const openid = async (): Promise<OpenidClient> => await (library ??= import('openid-client'))

/** Why a sign-in failed, for the logs (never a token, code or secret). */
export type SocialEvent = { event: 'social_refused', provider: string, reason: string }

export interface AuthorizationChecks {
  state: string
  nonce: string
  /** The PKCE code verifier. */
  verifier: string
}

export interface SocialClient {
  readonly config: SocialProviderConfig
  /** The provider's authorization URL for this sign-in. */
  authorizationUrl: (redirectUri: string, checks: AuthorizationChecks, codeChallenge: string) => Promise<URL>
  /** The callback: the code exchanged, the ID token (or user endpoints) verified. */
  callback: (currentUrl: URL, checks: AuthorizationChecks) => Promise<SocialProfile>
  /** POST …/token: an ID token (OpenID Connect) or an access token (GitHub, Naver) a native app got. */
  fromToken: (token: { id_token?: string, access_token?: string }) => Promise<SocialProfile>
}

export interface SocialClientOptions {
  onEvent?: (event: SocialEvent) => void
  nowMs?: () => number
  /** Milliseconds a request to a provider may take. */
  timeoutMs?: number
}

/** openid-client refuses plain http unless told: allowed for a provider configured with an http URL (a local stand-in, the tests). */
const isPlainHttp = (url: string): boolean => new URL(url).protocol === 'http:'

/** A failure to reach the provider (as opposed to an answer that must be refused). */
function unreachable (err: unknown): boolean {
  for (let e: unknown = err; e !== null && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^(ECONN|ENOTFOUND|EAI_|ETIMEDOUT|UND_ERR|ABORT_ERR)/.test(code)) return true
    if ((e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError') return true
  }
  return err instanceof TypeError && /fetch failed/.test(err.message)
}

const text = (value: unknown): string | undefined => typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined

/** An ID token's (or user-info's) claims as a profile; `email_verified` may be a string ("true", Apple). */
export function profileFromClaims (provider: string, claims: Record<string, unknown>): SocialProfile {
  const email = text(claims.email)?.toLowerCase()
  const given = [text(claims.given_name), text(claims.family_name)].filter((s) => s !== undefined).join(' ')
  return {
    provider,
    subject: String(claims.sub),
    email,
    emailVerified: email !== undefined && (claims.email_verified === true || claims.email_verified === 'true'),
    name: text(claims.name) ?? text(claims.nickname) ?? (given !== '' ? given : '')
  }
}

/**
 * Apple's name of the user: Apple puts no name in the ID token, only in the
 * `user` field of its form POST (`{"name":{"firstName","lastName"},…}`), on
 * the first sign-in alone. Unsigned, so it only fills a profile's empty name
 * (the new user's display name), never anything that decides who signs in.
 */
export function withAppleName (profile: SocialProfile, user: string | null): SocialProfile {
  if (profile.name !== '' || user === null) return profile
  try {
    const parsed = JSON.parse(user) as { name?: { firstName?: unknown, lastName?: unknown } } | null
    const name = [text(parsed?.name?.firstName), text(parsed?.name?.lastName)].filter((s) => s !== undefined).join(' ')
    return name === '' ? profile : { ...profile, name }
  } catch {
    return profile
  }
}

/** Apple answers with a form POST to the callback (response_mode=form_post) when it is asked for scopes beyond openid. */
export const formPost = (config: SocialProviderConfig): boolean => config.kind === 'oidc' && config.apple !== undefined && config.scopes.trim() !== 'openid'

export function createSocialClients (social: SocialConfig, options: SocialClientOptions = {}): Map<string, SocialClient> {
  return new Map(social.providers.map((config) => [config.name, config.kind === 'oidc' ? oidcClient(config, options) : oauthClient(config, options)]))
}

/**
 * How a provider client gives up, each with its `social_refused` line (the
 * reason only, never a code, token or secret): `refuse`, the provider's answer
 * is not to be trusted (SOCIAL_TOKEN_INVALID); `unavailable`, the provider
 * could not be used (SOCIAL_PROVIDER_UNAVAILABLE); `deniedIfError`, the
 * authorization came back with an error (SOCIAL_DENIED); `exchangeFailed`, the
 * code exchange threw: unreachable, or refused.
 */
function giveUp (provider: string, onEvent: (event: SocialEvent) => void) {
  const say = (reason: string): void => { onEvent({ event: 'social_refused', provider, reason }) }
  const refuse = (reason: string): never => { say(reason); throw new SocialTokenInvalidError() }
  const unavailable = (reason: string): never => { say(reason); throw new SocialProviderUnavailableError() }
  return {
    refuse,
    unavailable,
    deniedIfError (currentUrl: URL): void {
      if (!currentUrl.searchParams.has('error')) return
      say(`authorization error: ${currentUrl.searchParams.get('error') ?? ''}`)
      throw new SocialDeniedError()
    },
    exchangeFailed (err: unknown, what: string): never {
      return unreachable(err) ? unavailable(`provider unreachable: ${(err as Error).message}`) : refuse(`${what} refused: ${(err as Error).message}`)
    }
  }
}

function oidcClient (config: OidcProviderConfig, { onEvent = () => {}, nowMs = Date.now, timeoutMs = 10_000 }: SocialClientOptions): SocialClient {
  const { refuse, unavailable, deniedIfError, exchangeFailed } = giveUp(config.name, onEvent)
  let discovered: Promise<InstanceType<OpenidClient['Configuration']>> | undefined
  let appleSecretUntil = 0
  let current: InstanceType<OpenidClient['Configuration']> | undefined

  /** The discovered configuration (cached; a failed discovery is tried again at the next sign-in). */
  async function configuration (): Promise<InstanceType<OpenidClient['Configuration']>> {
    const client = await openid()
    discovered ??= (async () => {
      const execute = [client.enableNonRepudiationChecks, ...(isPlainHttp(config.issuer) ? [client.allowInsecureRequests] : [])]
      const secret = config.apple === undefined ? config.clientSecret : appleClientSecret(config.clientId, config.apple, nowMs())
      const found = await client.discovery(new URL(config.issuer), config.clientId, { client_secret: secret }, client.ClientSecretPost(secret), { execute, timeout: timeoutMs / 1000 })
      appleSecretUntil = nowMs() + 3600_000
      return found
    })()
    try {
      let found = await discovered
      // Apple's client secret is a JWT with an expiry: a fresh one every hour, on the discovered metadata.
      if (config.apple !== undefined && nowMs() > appleSecretUntil) {
        const secret = appleClientSecret(config.clientId, config.apple, nowMs())
        found = new client.Configuration(found.serverMetadata(), config.clientId, { client_secret: secret }, client.ClientSecretPost(secret))
        client.enableNonRepudiationChecks(found)
        appleSecretUntil = nowMs() + 3600_000
        discovered = Promise.resolve(found)
      }
      current = found
      return found
    } catch (err) {
      discovered = undefined
      return unavailable(`discovery failed: ${(err as Error).message}`)
    }
  }

  const verifyIdToken = idTokenVerifier({
    issuer: config.issuer,
    audiences: config.audiences,
    nowMs,
    fetchJwks: async () => {
      const jwksUri = (current ?? await configuration()).serverMetadata().jwks_uri
      if (jwksUri === undefined) throw new Error('the provider publishes no jwks_uri')
      const res = await fetch(jwksUri, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } })
      if (!res.ok) throw new Error(`JWKS answered ${res.status}`)
      return await res.json() as { keys?: unknown[] }
    }
  })

  return {
    config,
    async authorizationUrl (redirectUri, checks, codeChallenge) {
      const client = await openid()
      return client.buildAuthorizationUrl(await configuration(), {
        redirect_uri: redirectUri,
        scope: config.scopes,
        // Apple sends the answer back as a form POST whenever scopes are asked for.
        ...(formPost(config) ? { response_mode: 'form_post' } : {}),
        response_type: 'code',
        state: checks.state,
        nonce: checks.nonce,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256'
      })
    },
    async callback (currentUrl, checks) {
      deniedIfError(currentUrl)
      const client = await openid()
      const configured = await configuration()
      let claims: Record<string, unknown> | undefined
      try {
        const tokens = await client.authorizationCodeGrant(configured, currentUrl, {
          pkceCodeVerifier: checks.verifier, expectedState: checks.state, expectedNonce: checks.nonce, idTokenExpected: true
        })
        claims = tokens.claims()
        // Providers that follow OpenID Connect Core §5.4 strictly put the scopes'
        // claims (email, name) in the user-info answer, not in the ID token:
        // asked there, for the ID token's subject (openid-client checks it).
        const endpoint = configured.serverMetadata().userinfo_endpoint
        if (claims !== undefined && claims.email === undefined && endpoint !== undefined) {
          claims = { ...await client.fetchUserInfo(configured, tokens.access_token, String(claims.sub)), ...claims }
        }
      } catch (err) {
        return exchangeFailed(err, 'code exchange or ID token')
      }
      if (claims === undefined) return refuse('no ID token')
      const profile = profileFromClaims(config.name, claims)
      return config.apple === undefined ? profile : withAppleName(profile, currentUrl.searchParams.get('user'))
    },
    async fromToken (token) {
      if (token.id_token === undefined) return refuse('no id_token posted')
      try {
        return profileFromClaims(config.name, await verifyIdToken(token.id_token))
      } catch (err) {
        if (err instanceof IdTokenError) return refuse(`ID token refused: ${err.message}`)
        if (err instanceof SocialProviderUnavailableError) throw err
        return unavailable(`provider keys unavailable: ${(err as Error).message}`)
      }
    }
  }
}

/**
 * GitHub and Naver: OAuth 2.0 without OpenID Connect. The code (with PKCE;
 * Naver ignores it) is exchanged for an access token, and the user endpoints
 * say who it is: GitHub's /user and /user/emails (the primary address and
 * whether GitHub verified it), Naver's /v1/nid/me (an address Naver does not
 * say it verified: never linked automatically).
 */
function oauthClient (config: OAuthProviderConfig, { onEvent = () => {}, timeoutMs = 10_000 }: SocialClientOptions): SocialClient {
  const { refuse, unavailable, deniedIfError, exchangeFailed } = giveUp(config.name, onEvent)
  let configured: InstanceType<OpenidClient['Configuration']> | undefined
  async function configuration (): Promise<InstanceType<OpenidClient['Configuration']>> {
    const client = await openid()
    if (configured === undefined) {
      configured = new client.Configuration({
        issuer: new URL(config.authorizationUrl).origin,
        authorization_endpoint: config.authorizationUrl,
        token_endpoint: config.tokenUrl
      }, config.clientId, { client_secret: config.clientSecret }, client.ClientSecretPost(config.clientSecret))
      if (isPlainHttp(config.tokenUrl)) client.allowInsecureRequests(configured)
      configured.timeout = timeoutMs / 1000
    }
    return configured
  }

  async function api (path: string, accessToken: string): Promise<unknown> {
    let res: Response
    try {
      res = await fetch(`${config.apiUrl}${path}`, {
        signal: AbortSignal.timeout(timeoutMs),
        // GitHub refuses requests without a User-Agent.
        headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json', 'user-agent': 'auth-service' }
      })
    } catch (err) {
      return unavailable(`provider unreachable: ${(err as Error).message}`)
    }
    if (res.status === 401 || res.status === 403) return refuse(`${path} answered ${res.status}: the access token is not accepted`)
    if (!res.ok) return unavailable(`${path} answered ${res.status}`)
    return await res.json()
  }

  async function profile (accessToken: string): Promise<SocialProfile> {
    if (config.kind === 'github') {
      const user = await api('/user', accessToken) as { id?: unknown, login?: unknown, name?: unknown }
      if (typeof user.id !== 'number' && typeof user.id !== 'string') return refuse('/user without an id')
      const emails = await api('/user/emails', accessToken)
      const primary = Array.isArray(emails) ? (emails as Array<{ email?: unknown, primary?: unknown, verified?: unknown }>).find((e) => e.primary === true) : undefined
      const email = text(primary?.email)?.toLowerCase()
      return { provider: config.name, subject: String(user.id), email, emailVerified: email !== undefined && primary?.verified === true, name: text(user.name) ?? text(user.login) ?? '' }
    }
    const me = await api('/v1/nid/me', accessToken) as { resultcode?: unknown, response?: { id?: unknown, email?: unknown, name?: unknown, nickname?: unknown } }
    if (me.resultcode !== '00' || typeof me.response?.id !== 'string') return refuse('/v1/nid/me did not answer a user')
    const email = text(me.response.email)?.toLowerCase()
    return { provider: config.name, subject: me.response.id, email, emailVerified: false, name: text(me.response.name) ?? text(me.response.nickname) ?? '' }
  }

  /**
   * GitHub's check that an access token was issued to this app (POST
   * /applications/<client_id>/token, with the app's own credentials): a token
   * another app got from its users must not log them in here.
   */
  async function assertOurs (accessToken: string): Promise<void> {
    if (config.kind !== 'github') return
    let res: Response
    try {
      res = await fetch(`${config.apiUrl}/applications/${encodeURIComponent(config.clientId)}/token`, {
        method: 'POST',
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          authorization: `Basic ${Buffer.from(`${config.clientId}:${config.clientSecret}`).toString('base64')}`,
          accept: 'application/json',
          'content-type': 'application/json',
          'user-agent': 'auth-service'
        },
        body: JSON.stringify({ access_token: accessToken })
      })
    } catch (err) {
      return unavailable(`provider unreachable: ${(err as Error).message}`)
    }
    if (res.status === 404 || res.status === 422) refuse('the access token was not issued to this app')
    if (!res.ok) return unavailable(`token check answered ${res.status}`)
  }

  return {
    config,
    async authorizationUrl (redirectUri, checks, codeChallenge) {
      const client = await openid()
      return client.buildAuthorizationUrl(await configuration(), {
        redirect_uri: redirectUri,
        ...(config.scopes === '' ? {} : { scope: config.scopes }),
        response_type: 'code',
        state: checks.state,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256'
      })
    },
    async callback (currentUrl, checks) {
      deniedIfError(currentUrl)
      const client = await openid()
      let accessToken: string
      try {
        // Naver wants the state in the token request too.
        const tokens = await client.authorizationCodeGrant(await configuration(), currentUrl, { pkceCodeVerifier: checks.verifier, expectedState: checks.state },
          config.kind === 'naver' ? { state: checks.state } : undefined)
        accessToken = tokens.access_token
      } catch (err) {
        return exchangeFailed(err, 'code exchange')
      }
      return await profile(accessToken)
    },
    async fromToken (token) {
      if (token.access_token === undefined) return refuse('no access_token posted')
      await assertOurs(token.access_token)
      return await profile(token.access_token)
    }
  }
}
