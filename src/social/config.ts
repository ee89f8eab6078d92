import { readFileSync } from 'node:fs'
import { createPrivateKey } from 'node:crypto'
import { resolve } from 'node:path'
import { ConfigError, parseBoolean } from '../config.js'

/*
 * Social login's configuration (SOCIAL_PROVIDERS and the variables of each
 * provider). Its variables have names made from the providers' names, so they
 * are read here from the environment itself rather than from config-env.ts's
 * fixed schema; loadConfig calls this once, like everything else it parses.
 */

/** The OAuth 2.0 providers without OpenID Connect, whose user-info endpoints say who signed in. */
export type OAuthProfileKind = 'github' | 'naver'

interface ProviderBase {
  /** `[a-z0-9-]`: in the URLs (/account/social/<name>/…) and the `social:<name>` login method. */
  name: string
  /** Shown on the client page's button ("Continue with <label>"). */
  label: string
  clientId: string
  /** The client ids an ID token posted by a native app may be for: clientId and SOCIAL_<NAME>_AUDIENCES. */
  audiences: string[]
  scopes: string
}

export interface OidcProviderConfig extends ProviderBase {
  kind: 'oidc'
  /** Discovered at `<issuer>/.well-known/openid-configuration`; also the `iss` every ID token must carry. */
  issuer: string
  /** Undefined for Apple, whose secret is a JWT made from `apple`. */
  clientSecret?: string
  /** Apple: the client secret is an ES256 JWT signed with this key (src/social/apple.ts). */
  apple?: { teamId: string, keyId: string, privateKeyPem: string }
}

export interface OAuthProviderConfig extends ProviderBase {
  kind: OAuthProfileKind
  clientSecret: string
  authorizationUrl: string
  tokenUrl: string
  /** GitHub: /user and /user/emails under it; Naver: /v1/nid/me under it. */
  apiUrl: string
}

export type SocialProviderConfig = OidcProviderConfig | OAuthProviderConfig

export interface SocialConfig {
  providers: SocialProviderConfig[]
  /** Where the browser lands after a sign-in, with `?error=CODE` after a failure (SOCIAL_REDIRECT_URL, default PUBLIC_URL). */
  redirectUrl: string
  /**
   * SOCIAL_MFA (default true): a user with TOTP on who signs in through a
   * provider is asked for the code as after a password (MFA_REQUIRED); false
   * lets the provider's own sign-in stand for both factors.
   */
  mfa: boolean
}

const OIDC_PRESETS: Record<string, { issuer: string, label: string }> = {
  google: { issuer: 'https://accounts.google.com', label: 'Google' },
  kakao: { issuer: 'https://kauth.kakao.com', label: 'Kakao' },
  apple: { issuer: 'https://appleid.apple.com', label: 'Apple' }
}

const OAUTH_PRESETS: Record<OAuthProfileKind, { label: string, authorizationUrl: string, tokenUrl: string, apiUrl: string, scopes: string }> = {
  github: {
    label: 'GitHub',
    authorizationUrl: 'https://github.com/login/oauth/authorize',
    tokenUrl: 'https://github.com/login/oauth/access_token',
    apiUrl: 'https://api.github.com',
    scopes: 'read:user user:email'
  },
  naver: {
    label: 'Naver',
    authorizationUrl: 'https://nid.naver.com/oauth2.0/authorize',
    tokenUrl: 'https://nid.naver.com/oauth2.0/token',
    apiUrl: 'https://openapi.naver.com',
    scopes: ''
  }
}

/** Names that are path segments of the routes beside /account/social/<name>. */
const RESERVED = new Set(['providers'])

const variableName = (name: string, suffix: string): string => `SOCIAL_${name.toUpperCase().replace(/-/g, '_')}_${suffix}`

/** An absolute http(s) URL, for a provider's endpoints (http only makes sense for a local stand-in). */
function httpUrl (variable: string, value: string): string {
  let url: URL
  try { url = new URL(value) } catch { throw new ConfigError(variable, `must be an absolute https:// URL, got "${value}"`) }
  if (!/^https?:$/.test(url.protocol) || url.hash !== '' || url.search !== '') throw new ConfigError(variable, `must be an absolute https:// URL without ?query or #fragment, got "${value}"`)
  return value.replace(/\/+$/, '')
}

/**
 * SOCIAL_PROVIDERS and each provider's variables, checked at start: a missing
 * or malformed value throws ConfigError naming the variable. `publicUrl` is
 * SOCIAL_REDIRECT_URL's default.
 */
export function parseSocialConfig (env: NodeJS.ProcessEnv, publicUrl: string, cwd: string): SocialConfig {
  const get = (variable: string): string => (env[variable] ?? '').trim()
  const names = get('SOCIAL_PROVIDERS').split(',').map((n) => n.trim()).filter((n) => n !== '')
  const providers: SocialProviderConfig[] = []
  for (const name of names) {
    if (!/^[a-z0-9-]{1,32}$/.test(name) || RESERVED.has(name)) {
      throw new ConfigError('SOCIAL_PROVIDERS', `must be a comma list of provider names of a-z, 0-9 and -, other than ${[...RESERVED].join(', ')}, got "${name}"`)
    }
    if (providers.some((p) => p.name === name)) throw new ConfigError('SOCIAL_PROVIDERS', `names "${name}" twice`)
    const required = (suffix: string): string => {
      const variable = variableName(name, suffix)
      const value = get(variable)
      if (value === '') throw new ConfigError(variable, `must be set for the social login provider "${name}" (SOCIAL_PROVIDERS)`)
      return value
    }
    const clientId = required('CLIENT_ID')
    const extraAudiences = get(variableName(name, 'AUDIENCES')).split(',').map((a) => a.trim()).filter((a) => a !== '')
    const base = {
      name,
      clientId,
      audiences: [clientId, ...extraAudiences.filter((a) => a !== clientId)],
      label: get(variableName(name, 'LABEL'))
    }
    const scopesVariable = variableName(name, 'SCOPES')
    if (name in OAUTH_PRESETS) {
      const preset = OAUTH_PRESETS[name as OAuthProfileKind]
      const apiOverride = get(variableName(name, 'BASE_URL'))
      // One origin for every endpoint: a stand-in (the tests) or a proxy in front of the provider.
      const rebase = (url: string): string => apiOverride === '' ? url : `${httpUrl(variableName(name, 'BASE_URL'), apiOverride)}${new URL(url).pathname}`
      providers.push({
        ...base,
        kind: name as OAuthProfileKind,
        label: base.label !== '' ? base.label : preset.label,
        clientSecret: required('CLIENT_SECRET'),
        authorizationUrl: rebase(preset.authorizationUrl),
        tokenUrl: rebase(preset.tokenUrl),
        apiUrl: apiOverride === '' ? preset.apiUrl : httpUrl(variableName(name, 'BASE_URL'), apiOverride),
        scopes: env[scopesVariable] !== undefined ? get(scopesVariable) : preset.scopes
      })
      continue
    }
    const preset = OIDC_PRESETS[name]
    const issuerVariable = variableName(name, 'ISSUER')
    const issuer = get(issuerVariable) !== '' ? httpUrl(issuerVariable, get(issuerVariable)) : preset?.issuer
    if (issuer === undefined) {
      throw new ConfigError(issuerVariable, `must be set for the social login provider "${name}" (an OpenID Connect issuer URL; presets: google, kakao, apple, github, naver)`)
    }
    const scopes = get(scopesVariable) !== '' ? get(scopesVariable) : 'openid email profile'
    if (!scopes.split(/\s+/).includes('openid')) throw new ConfigError(scopesVariable, `must include openid, got "${scopes}"`)
    const label = base.label !== '' ? base.label : preset?.label ?? name
    if (name === 'apple') {
      providers.push({ ...base, kind: 'oidc', label, issuer, scopes: get(scopesVariable) !== '' ? scopes : 'openid email name', apple: appleKey(get, cwd) })
      continue
    }
    providers.push({ ...base, kind: 'oidc', label, issuer, scopes, clientSecret: required('CLIENT_SECRET') })
  }
  const redirectVariable = 'SOCIAL_REDIRECT_URL'
  const redirectUrl = get(redirectVariable) === '' ? publicUrl : new URL(httpUrl(redirectVariable, get(redirectVariable))).toString()
  const mfa = get('SOCIAL_MFA') === '' ? true : parseBoolean('SOCIAL_MFA', get('SOCIAL_MFA'))
  return { providers, redirectUrl, mfa }
}

/** SOCIAL_APPLE_TEAM_ID, _KEY_ID and _PRIVATE_KEY_FILE (a P-256 key in PEM, as Apple's console gives it). */
function appleKey (get: (variable: string) => string, cwd: string): NonNullable<OidcProviderConfig['apple']> {
  const required = (variable: string): string => {
    const value = get(variable)
    if (value === '') throw new ConfigError(variable, 'must be set for Sign in with Apple (its client secret is a JWT signed with that key)')
    return value
  }
  const teamId = required('SOCIAL_APPLE_TEAM_ID')
  const keyId = required('SOCIAL_APPLE_KEY_ID')
  const file = required('SOCIAL_APPLE_PRIVATE_KEY_FILE')
  let privateKeyPem: string
  try {
    privateKeyPem = readFileSync(resolve(cwd, file), 'utf8')
  } catch (err) {
    throw new ConfigError('SOCIAL_APPLE_PRIVATE_KEY_FILE', `cannot be read: ${(err as Error).message}`)
  }
  let curve: string | undefined
  try {
    curve = createPrivateKey(privateKeyPem).asymmetricKeyDetails?.namedCurve
  } catch {
    curve = undefined
  }
  if (curve !== 'prime256v1') throw new ConfigError('SOCIAL_APPLE_PRIVATE_KEY_FILE', `must be a P-256 (ES256) private key in PEM (${file})`)
  return { teamId, keyId, privateKeyPem }
}
