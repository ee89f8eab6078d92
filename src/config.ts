import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseEnv, type EnvProblem, type RawEnv } from './config-env.js'
import { fromPrivateKeyPem, type Algorithm } from './keys/algorithms.js'
import { parseSocialConfig, type SocialConfig } from './social/config.js'

/** A configuration value that cannot be used; `variable` names the offending env var. */
export class ConfigError extends Error {
  constructor (readonly variable: string, message: string) {
    super(`${variable} ${message}`)
    this.name = 'ConfigError'
  }
}

export type SameSite = 'lax' | 'strict' | 'none'

export interface Config {
  host: string
  port: number
  /** `sqlite` file path (absolute) or a `postgres://` URL. */
  database: { kind: 'sqlite', path: string } | { kind: 'postgres', url: string }
  /** Directory holding the SQLite file and the generated JWT secret (src/keys/legacy-secret.ts). */
  dataDir: string
  sqliteSynchronous: 'full' | 'normal'
  /** Milliseconds a SQLite statement waits for another connection's lock before failing (then 503). */
  sqliteBusyTimeout: number
  /** TOKEN_CACHE_SIZE: access tokens remembered as verified (0: none). */
  tokenCacheSize: number
  /** USER_CACHE_SIZE: users remembered by the store between requests (0: none). */
  userCacheSize: number
  /**
   * JWT_SECRET (at least 32 bytes) when given: under HS256 it then signs every
   * token (src/keys/). Unset, the keys use a secret generated in the data
   * directory (src/keys/legacy-secret.ts).
   */
  jwtSecret?: string
  jwtAlgorithm: Algorithm
  /** JWT_PRIVATE_KEY_FILE's content (a PEM private key matching jwtAlgorithm). */
  jwtPrivateKeyPem?: string
  /** Encrypts the private keys stored in the database. */
  jwtKeysEncryptionKey?: string
  /** JWT_ISSUER: the `iss` of access tokens, required of every access token the service verifies. */
  jwtIssuer?: string
  /** JWT_AUDIENCE: the `aud` of access tokens, required of every access token the service verifies. */
  jwtAudience?: string
  /** Guards POST /account/token/introspect; without it the endpoint is 404. */
  introspectionSecret?: string
  /** GET /metrics: off unless METRICS=true; on its own listener when `port` is set. */
  metrics: { enabled: boolean, port?: number }
  /** @fastify/under-pressure: above either, requests get 503 + Retry-After. */
  pressure: { maxEventLoopDelay: number, maxHashQueue: number }
  /** Seconds. */
  accessTokenLifetime: number
  /** Seconds. */
  refreshTokenLifetime: number
  /** Seconds after a rotation in which a replay of the rotated refresh token gets its successor again; 0 = off. */
  refreshReuseInterval: number
  cookieSecure: boolean
  cookieSameSite: SameSite
  /** `mailMax`: password-reset, verification-resend and email-change requests (each its own counters) per window, per client IP and per email. */
  rateLimit: { loginMax: number, joinMax: number, mailMax: number, window: number }
  /** RATE_LIMIT_PASSWORD_CHECK_MAX: checks of the current password behind a session (password change, email change, deletion) per RATE_LIMIT_WINDOW, per user. */
  passwordCheckMax: number
  trustProxy: false | number | string
  logLevel: string
  argon2: { memoryCost: number, timeCost: number, parallelism: number }
  /** Milliseconds given to in-flight requests on SIGTERM/SIGINT. */
  shutdownGrace: number
  serveClient: boolean
  corsOrigins: string[]
  /** allauth's ACCOUNT_EMAIL_VERIFICATION. */
  emailVerification: 'none' | 'optional' | 'mandatory'
  mail: MailConfig
  /** The service's public base URL (ends with `/`): where the client page is. */
  publicUrl: string
  /** The page a reset mail links to, as `<url>?token=…`. */
  passwordResetUrl: string
  /** The page a verification mail links to, as `<url>?token=…`. */
  emailVerifyUrl: string
  /** Seconds. */
  passwordResetLifetime: number
  /** Seconds. */
  emailVerificationLifetime: number
  /**
   * Shared state of several instances (rate-limit counters): `url` is a
   * redis:// URL, `keyPrefix` starts every key the service writes. Absent: one
   * instance, counters in memory.
   */
  redis?: { url: string, keyPrefix: string }
  /** When Redis cannot be reached: refuse the rate-limited routes (login, join, password reset, verification resend, email change, password change, deletion) with 503 (false, the default) or let them through unlimited (true). */
  rateLimitFailOpen: boolean
  /** Processes serving the port (node:cluster); 1 = no cluster. */
  workers: number
  /** Milliseconds between automatic purges of expired refresh tokens; 0 = never (only `tokens purge`). */
  tokenPurgeInterval: number
  /** Accept a Django simplejwt refresh token once at /account/token/refresh (moving a deployment over). */
  simplejwtCompat: boolean
  /**
   * SIMPLEJWT_SIGNING_KEY: the Django deployment's simplejwt SIGNING_KEY, which
   * verifies its tokens (SIMPLEJWT_COMPAT); unset, JWT_SECRET (or the generated secret) does.
   */
  simplejwtSigningKey?: string
  /** The Pwned Passwords range API (`<url><5 hex of SHA-1>`): new passwords found there are refused. Unset: no check. */
  pwnedPasswordsUrl?: string
  /** Passkeys (src/passkeys/). */
  webauthn: WebauthnConfig
  /** MFA_ISSUER: the name authenticator apps show beside a TOTP account (default the host name of PUBLIC_URL). */
  mfaIssuer: string
  /** Social login (src/social/): SOCIAL_PROVIDERS, SOCIAL_<NAME>_*, SOCIAL_REDIRECT_URL. */
  social: SocialConfig
}

export interface WebauthnConfig {
  /** The relying party id: a registrable domain (WEBAUTHN_RP_ID, default the host of PUBLIC_URL). */
  rpId: string
  /** Shown by the authenticator (WEBAUTHN_RP_NAME, default the RP ID). */
  rpName: string
  /** The origins a ceremony may come from (WEBAUTHN_ORIGINS, default the origin of PUBLIC_URL). */
  origins: string[]
  /**
   * Why passkeys cannot be used, when they cannot: the RP ID is an IP address,
   * which browsers refuse. The passkey routes then answer 501.
   */
  unavailable?: string
}

export interface MailConfig {
  /** `smtp://` or `smtps://` URL; undefined: mails are written to `outboxDir` as .eml files. */
  smtpUrl: string | undefined
  from: string
  language: 'en' | 'ko'
  /** Delivery attempts after the first failure (with backoff), before the mail is given up. */
  retries: number
  outboxDir: string
}

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }

/**
 * `300`, `300s`, `5m`, `1h`, `1d` → seconds (a positive integer; 0 too with
 * `allowZero`, for a duration whose 0 means "off").
 */
export function parseDuration (variable: string, value: string, { allowZero = false } = {}): number {
  const match = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(value)
  if (match === null) {
    throw new ConfigError(variable, `must be a duration in seconds or with a unit (e.g. ${allowZero ? '0, 10, 30s, 1m' : '300, 5m, 1h, 1d'}), got "${value}"`)
  }
  const seconds = Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] ?? 1)
  if (!Number.isSafeInteger(seconds)) throw new ConfigError(variable, `is too large, got "${value}"`)
  if (seconds < 1 && !(allowZero && seconds === 0)) {
    throw new ConfigError(variable, `must be at least 1 second, got "${value}"`)
  }
  return seconds
}

export function parseBoolean (variable: string, value: string): boolean {
  const v = value.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(v)) return true
  if (['false', '0', 'no', 'off'].includes(v)) return false
  throw new ConfigError(variable, `must be true or false, got "${value}"`)
}

/**
 * Fastify's `trustProxy`: false, a hop count, or a comma list of
 * addresses/CIDRs. `true` is refused: it trusts whatever X-Forwarded-For any
 * client sends, so a client picks the address the rate limits count.
 */
function parseTrustProxy (value: string): false | number | string {
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v)
  if (/^(true|yes|on)$/i.test(v)) throw new ConfigError('TRUST_PROXY', `must not be "${v}": that trusts the X-Forwarded-For any client sends; give the number of proxies in front of the service (e.g. 1) or their addresses/CIDRs`)
  if (/^(false|no|off)$/i.test(v)) return false
  if (/^[0-9a-f.:/,\s]+$/i.test(v)) return v
  throw new ConfigError('TRUST_PROXY', `must be true, false, a hop count or a comma list of addresses/CIDRs, got "${value}"`)
}

/** An absolute http(s) URL without a query or fragment (the mail links append `?token=`). */
function parseHttpUrl (variable: string, value: string): string {
  let url: URL
  try { url = new URL(value) } catch { throw new ConfigError(variable, `must be an absolute http:// or https:// URL, got "${value}"`) }
  if (!/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '') {
    throw new ConfigError(variable, `must be an absolute http:// or https:// URL without ?query or #fragment, got "${value}"`)
  }
  return url.toString()
}

/**
 * A URL with credentials (SMTP_URL, REDIS_URL): one of `protocols`, with a host;
 * undefined when empty. The error shows the value only as far as it parsed as
 * a URL with a host, with its user's password masked and nothing after the
 * host (a value that did not parse may hold the password anywhere).
 */
function parseCredentialUrl (variable: string, value: string, protocols: readonly string[], expected: string): string | undefined {
  const v = value.trim()
  if (v === '') return undefined
  let url: URL | undefined
  try { url = new URL(v) } catch { url = undefined }
  if (url === undefined || !protocols.includes(url.protocol) || url.hostname === '') {
    const shown = url === undefined || url.hostname === '' ? '' : `, got "${url.protocol}//${url.username !== '' || url.password !== '' ? `${url.username}:***@` : ''}${url.host}"`
    throw new ConfigError(variable, `must be ${expected}${shown}`)
  }
  return v
}

/** An IPv4 or IPv6 address (with or without brackets), as opposed to a host name. */
const isIpAddress = (host: string): boolean => isIP(host.replace(/^\[|\]$/g, '')) !== 0

/**
 * WEBAUTHN_*: the RP ID and origins default to PUBLIC_URL's host and origin. An
 * RP ID must be a domain (browsers refuse an IP address): with one, passkeys
 * are off (`unavailable` says why) rather than the start refused, since the
 * default PUBLIC_URL is http://127.0.0.1:3000/.
 */
function parseWebauthn (raw: RawEnv, publicUrl: string): WebauthnConfig {
  const url = new URL(publicUrl)
  const rpId = raw.WEBAUTHN_RP_ID.trim() !== '' ? raw.WEBAUTHN_RP_ID.trim().toLowerCase() : url.hostname
  if (!/^[a-z0-9.:[\]-]+$/i.test(rpId) || rpId.startsWith('.') || rpId.endsWith('.')) {
    throw new ConfigError('WEBAUTHN_RP_ID', `must be a domain name such as example.com (no scheme, port or path), got "${raw.WEBAUTHN_RP_ID}"`)
  }
  const origins = raw.WEBAUTHN_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o !== '')
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError('WEBAUTHN_ORIGINS', `must be a comma list of origins like https://app.example.com, got "${origin}"`)
    }
  }
  // The name the user sees for the service in an authenticator: MFA_ISSUER's, when it is set.
  const rpName = raw.WEBAUTHN_RP_NAME.trim() !== '' ? raw.WEBAUTHN_RP_NAME.trim() : raw.MFA_ISSUER.trim() !== '' ? raw.MFA_ISSUER.trim() : rpId
  const unavailable = isIpAddress(rpId)
    ? `the WebAuthn RP ID "${rpId}" is an IP address, which browsers refuse; set PUBLIC_URL to a host name (e.g. http://localhost:3000/) or WEBAUTHN_RP_ID to a domain`
    : undefined
  if (unavailable === undefined) {
    // The browser refuses an RP ID that is not the page's host or a parent domain of it.
    for (const origin of origins) {
      const host = new URL(origin).hostname
      if (host !== rpId && !host.endsWith(`.${rpId}`)) {
        throw new ConfigError('WEBAUTHN_ORIGINS', `lists ${origin}, whose host is neither the RP ID "${rpId}" nor a subdomain of it`)
      }
    }
  }
  return { rpId, rpName, origins: origins.length > 0 ? origins : [url.origin], ...optional('unavailable', unavailable) }
}

/**
 * MFA_ISSUER, the issuer of otpauth:// URLs: no colon, which separates the
 * issuer from the account in the URL's label (Key Uri Format).
 */
function parseMfaIssuer (raw: RawEnv, publicUrl: string): string {
  // An IPv6 host's colons become dashes in the default: a start on [::1] must not fail for a name.
  const issuer = raw.MFA_ISSUER.trim() !== '' ? raw.MFA_ISSUER.trim() : new URL(publicUrl).hostname.replace(/^\[|\]$/g, '').replaceAll(':', '-')
  if (issuer.includes(':')) throw new ConfigError('MFA_ISSUER', `must not contain ":" (it separates the issuer from the account in an otpauth:// URL), got "${issuer}"`)
  return issuer
}

/** `auto` = the machine's cores; otherwise 1 to 64. */
function parseWorkers (value: string, cores: number): number {
  const v = value.trim().toLowerCase()
  if (v === 'auto') return Math.max(1, cores)
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 64) {
    throw new ConfigError('WORKERS', `must be a number of processes from 1 to 64, or auto, got "${value}"`)
  }
  return Number(v)
}

/** TOKEN_PURGE_INTERVAL: a duration up to 24 days (a timer's limit), or 0/off for never. */
function parsePurgeInterval (value: string): number {
  if (/^\s*off\s*$/i.test(value)) return 0
  const seconds = parseDuration('TOKEN_PURGE_INTERVAL', value, { allowZero: true })
  if (seconds > 24 * 86400) throw new ConfigError('TOKEN_PURGE_INTERVAL', `must be at most 24d (or 0 to turn automatic purging off), got "${value}"`)
  return seconds * 1000
}

function parseDatabase (url: string, cwd: string): Config['database'] {
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith('file:')) {
    throw new ConfigError('DATABASE_URL', `must be a SQLite path (file:… or a plain path) or a postgres:// URL, got "${url}"`)
  }
  const path = url.startsWith('file:') ? url.slice('file:'.length).replace(/^\/\/(?=\/)/, '') : url
  if (path === '') throw new ConfigError('DATABASE_URL', 'must name a file')
  return { kind: 'sqlite', path: resolve(cwd, path) }
}

/** JWT_PRIVATE_KEY_FILE: read once, and refused at start unless it is a private key for JWT_ALGORITHM. */
function readPrivateKey (file: string | undefined, algorithm: Algorithm, cwd: string): string | undefined {
  if (file === undefined || file === '') return undefined
  if (algorithm === 'HS256') throw new ConfigError('JWT_PRIVATE_KEY_FILE', 'is set but JWT_ALGORITHM is HS256; set JWT_ALGORITHM to EdDSA, ES256 or RS256')
  let pem: string
  try {
    pem = readFileSync(resolve(cwd, file), 'utf8')
  } catch (err) {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `cannot be read: ${(err as Error).message}`)
  }
  try {
    fromPrivateKeyPem(pem, algorithm)
  } catch (err) {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `${(err as Error).message} (${file})`)
  }
  return pem
}

/** An optional secret that must be long enough to resist guessing when given. */
/** JWT_ISSUER, JWT_AUDIENCE: unset or empty for none; otherwise a string without spaces or control characters (a URL, usually). */
function optionalClaim (variable: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  if (!/^[\x21-\x7e\u00a0-\uffff]{1,512}$/u.test(value)) throw new ConfigError(variable, `must be one value without spaces (a URL or a name), up to 512 characters, got "${value}"`)
  return value
}

function optionalSecret (variable: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  if (Buffer.byteLength(value, 'utf8') < 32) throw new ConfigError(variable, 'must be at least 32 bytes long')
  return value
}

/** `{ [key]: value }`, or nothing when value is undefined (exactOptionalPropertyTypes). */
function optional<K extends string, V> (key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

/**
 * Reads and validates the configuration once. Nothing else in the service reads
 * `process.env`, and nothing is written: the generated secret is made where the
 * keys are handled (src/keys/legacy-secret.ts). Throws `ConfigError` naming the
 * first bad variable.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  let raw: RawEnv
  try {
    raw = parseEnv(env)
  } catch (err) {
    const first = (err as { errors?: EnvProblem[] }).errors?.[0]
    if (first === undefined) throw err
    const variable = first.instancePath.replace(/^\//, '')
    const allowed = first.params?.allowedValues
    const detail = Array.isArray(allowed) ? `must be one of ${allowed.map(String).join(', ')}` : (first.message ?? 'is invalid')
    throw new ConfigError(variable, `${detail}, got "${String(env[variable])}"`)
  }

  const database = parseDatabase(raw.DATABASE_URL, cwd)
  const dataDir = database.kind === 'sqlite' ? dirname(database.path) : resolve(cwd, 'data')
  const cookieSecure = parseBoolean('COOKIE_SECURE', raw.COOKIE_SECURE)
  const cookieSameSite = raw.COOKIE_SAMESITE.toLowerCase() as SameSite
  if (cookieSameSite === 'none' && !cookieSecure) {
    // Browsers drop SameSite=None cookies that are not Secure.
    throw new ConfigError('COOKIE_SAMESITE', 'is "none", which requires COOKIE_SECURE=true')
  }
  const accessTokenLifetime = parseDuration('ACCESS_TOKEN_LIFETIME', raw.ACCESS_TOKEN_LIFETIME)
  const refreshTokenLifetime = parseDuration('REFRESH_TOKEN_LIFETIME', raw.REFRESH_TOKEN_LIFETIME)
  const refreshReuseInterval = parseDuration('REFRESH_REUSE_INTERVAL', raw.REFRESH_REUSE_INTERVAL, { allowZero: true })
  const corsOrigins = raw.CORS_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o !== '')
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError('CORS_ORIGINS', `must be a comma list of origins like https://app.example.com, got "${origin}"`)
    }
  }

  const publicUrl = parseHttpUrl('PUBLIC_URL', raw.PUBLIC_URL !== '' ? raw.PUBLIC_URL : `http://${raw.HOST.includes(':') ? `[${raw.HOST}]` : raw.HOST}:${raw.PORT}/`)
  const redisUrl = parseCredentialUrl('REDIS_URL', raw.REDIS_URL, ['redis:', 'rediss:'], 'a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379/0)')
  const workers = parseWorkers(raw.WORKERS, availableParallelism())
  if (workers > 1 && redisUrl === undefined) {
    // Each process would count attempts on its own: a limit of 10 would be 10 × WORKERS.
    throw new ConfigError('WORKERS', `is ${workers}, which requires REDIS_URL (the rate limits must be shared by the processes)`)
  }
  const simplejwtCompat = parseBoolean('SIMPLEJWT_COMPAT', raw.SIMPLEJWT_COMPAT)
  const simplejwtSigningKey = optionalSecret('SIMPLEJWT_SIGNING_KEY', raw.SIMPLEJWT_SIGNING_KEY)
  if (simplejwtSigningKey !== undefined && !simplejwtCompat) throw new ConfigError('SIMPLEJWT_SIGNING_KEY', 'is set but SIMPLEJWT_COMPAT is not true')
  const metricsEnabled = parseBoolean('METRICS', raw.METRICS)
  if (raw.METRICS_PORT !== undefined && !metricsEnabled) throw new ConfigError('METRICS_PORT', 'is set but METRICS is not true')

  return {
    host: raw.HOST,
    port: raw.PORT,
    database,
    dataDir,
    sqliteSynchronous: raw.SQLITE_SYNCHRONOUS.toLowerCase() as Config['sqliteSynchronous'],
    sqliteBusyTimeout: raw.SQLITE_BUSY_TIMEOUT,
    tokenCacheSize: raw.TOKEN_CACHE_SIZE,
    userCacheSize: raw.USER_CACHE_SIZE,
    ...optional('jwtSecret', optionalSecret('JWT_SECRET', raw.JWT_SECRET)),
    jwtAlgorithm: raw.JWT_ALGORITHM,
    ...optional('jwtPrivateKeyPem', readPrivateKey(raw.JWT_PRIVATE_KEY_FILE, raw.JWT_ALGORITHM, cwd)),
    ...optional('jwtKeysEncryptionKey', optionalSecret('JWT_KEYS_ENCRYPTION_KEY', raw.JWT_KEYS_ENCRYPTION_KEY)),
    ...optional('jwtIssuer', optionalClaim('JWT_ISSUER', raw.JWT_ISSUER)),
    ...optional('jwtAudience', optionalClaim('JWT_AUDIENCE', raw.JWT_AUDIENCE)),
    ...optional('introspectionSecret', optionalSecret('INTROSPECTION_SECRET', raw.INTROSPECTION_SECRET)),
    metrics: { enabled: metricsEnabled, ...optional('port', raw.METRICS_PORT) },
    pressure: { maxEventLoopDelay: raw.PRESSURE_MAX_EVENT_LOOP_DELAY, maxHashQueue: raw.PRESSURE_MAX_HASH_QUEUE },
    accessTokenLifetime,
    refreshTokenLifetime,
    refreshReuseInterval,
    cookieSecure,
    cookieSameSite,
    rateLimit: {
      loginMax: raw.RATE_LIMIT_LOGIN_MAX,
      joinMax: raw.RATE_LIMIT_JOIN_MAX,
      mailMax: raw.RATE_LIMIT_MAIL_MAX,
      window: parseDuration('RATE_LIMIT_WINDOW', raw.RATE_LIMIT_WINDOW)
    },
    passwordCheckMax: raw.RATE_LIMIT_PASSWORD_CHECK_MAX,
    trustProxy: parseTrustProxy(raw.TRUST_PROXY),
    logLevel: raw.LOG_LEVEL,
    argon2: { memoryCost: raw.ARGON2_MEMORY_KIB, timeCost: raw.ARGON2_ITERATIONS, parallelism: raw.ARGON2_PARALLELISM },
    shutdownGrace: parseDuration('SHUTDOWN_GRACE', raw.SHUTDOWN_GRACE) * 1000,
    serveClient: parseBoolean('SERVE_CLIENT', raw.SERVE_CLIENT),
    corsOrigins,
    emailVerification: raw.EMAIL_VERIFICATION,
    mail: {
      smtpUrl: parseCredentialUrl('SMTP_URL', raw.SMTP_URL, ['smtp:', 'smtps:'], 'an smtp://[user:password@]host[:port] or smtps://… URL'),
      from: raw.MAIL_FROM,
      language: raw.MAIL_LANGUAGE,
      retries: raw.SMTP_RETRIES,
      outboxDir: join(dataDir, 'outbox')
    },
    publicUrl,
    passwordResetUrl: raw.PASSWORD_RESET_URL !== '' ? parseHttpUrl('PASSWORD_RESET_URL', raw.PASSWORD_RESET_URL) : publicUrl,
    emailVerifyUrl: raw.EMAIL_VERIFY_URL !== '' ? parseHttpUrl('EMAIL_VERIFY_URL', raw.EMAIL_VERIFY_URL) : publicUrl,
    passwordResetLifetime: parseDuration('PASSWORD_RESET_LIFETIME', raw.PASSWORD_RESET_LIFETIME),
    emailVerificationLifetime: parseDuration('EMAIL_VERIFICATION_LIFETIME', raw.EMAIL_VERIFICATION_LIFETIME),
    ...(redisUrl === undefined ? {} : { redis: { url: redisUrl, keyPrefix: raw.REDIS_KEY_PREFIX } }),
    rateLimitFailOpen: parseBoolean('RATE_LIMIT_FAIL_OPEN', raw.RATE_LIMIT_FAIL_OPEN),
    workers,
    tokenPurgeInterval: parsePurgeInterval(raw.TOKEN_PURGE_INTERVAL),
    simplejwtCompat,
    ...optional('simplejwtSigningKey', simplejwtSigningKey),
    ...optional('pwnedPasswordsUrl', raw.PWNED_PASSWORDS_URL.trim() === '' ? undefined : parseHttpUrl('PWNED_PASSWORDS_URL', raw.PWNED_PASSWORDS_URL.trim())),
    webauthn: parseWebauthn(raw, publicUrl),
    mfaIssuer: parseMfaIssuer(raw, publicUrl),
    social: parseSocialConfig(env, publicUrl, cwd)
  }
}

/** Loopback hosts, where browsers keep `Secure` cookies over plain http (they count as secure contexts). */
const LOOPBACK_HOST = /^(?:localhost|.+\.localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i

/**
 * Why a valid configuration will still fail in browsers, as one line naming the
 * variables; undefined when nothing is wrong. One case: COOKIE_SECURE=true
 * (the default) while PUBLIC_URL is plain http on a host other than loopback,
 * e.g. a staging host behind nginx without TLS. Browsers drop `Secure`
 * cookies set over http there, so logins answer 200 and nothing sticks.
 * Logged once at start (plugins/app/auth-cookies.ts; the primary under
 * WORKERS, src/cluster.ts), not refused: a TLS proxy in front that PUBLIC_URL
 * does not describe yet is a working deployment.
 */
export function plainHttpCookieWarning (config: Pick<Config, 'publicUrl' | 'cookieSecure'>): string | undefined {
  const url = new URL(config.publicUrl)
  if (!config.cookieSecure || url.protocol !== 'http:' || LOOPBACK_HOST.test(url.hostname)) return undefined
  return `PUBLIC_URL is ${config.publicUrl} (plain http on a host other than loopback) while COOKIE_SECURE=true: ` +
    'browsers drop Secure cookies over http, so logins through the page will not stick. ' +
    'Serve it over https and set PUBLIC_URL to the https address, or set COOKIE_SECURE=false for a plain-http test deployment.'
}
