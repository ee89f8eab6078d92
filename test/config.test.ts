import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, loadConfig, parseDuration } from '../src/config.js'
import { tempDir } from './helpers/app.js'

const cfg = (t: Test, env: NodeJS.ProcessEnv = {}) => loadConfig({ DATABASE_URL: join(tempDir(t), 'db.sqlite'), ...env })

/** The ConfigError that loading `env` throws (fails the test if none is thrown). */
function configError (t: Test, env: NodeJS.ProcessEnv): ConfigError {
  try {
    cfg(t, env)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

t.test('defaults match the contract', async (t) => {
  const dir = tempDir(t)
  const c = loadConfig({}, dir)
  t.equal(c.host, '127.0.0.1')
  t.equal(c.port, 3000)
  t.same(c.database, { kind: 'sqlite', path: join(dir, 'data', 'auth.db') })
  t.equal(c.accessTokenLifetime, 300)
  t.equal(c.refreshTokenLifetime, 86400)
  t.equal(c.cookieSecure, true)
  t.equal(c.cookieSameSite, 'lax')
  t.same(c.rateLimit, { loginMax: 10, joinMax: 20, mailMax: 5, window: 60 })
  t.equal(c.trustProxy, false)
  t.equal(c.sqliteSynchronous, 'full')
  t.equal(c.jwtSecret, undefined, 'no JWT_SECRET: the keys generate one (test/keys/legacy-secret.test.ts)')
})

t.test('durations accept seconds and 5m / 1h / 1d', async (t) => {
  t.equal(parseDuration('X', '300'), 300)
  t.equal(parseDuration('X', '45s'), 45)
  t.equal(parseDuration('X', '5m'), 300)
  t.equal(parseDuration('X', '1h'), 3600)
  t.equal(parseDuration('X', '1d'), 86400)
  const c = cfg(t, { ACCESS_TOKEN_LIFETIME: '5m', REFRESH_TOKEN_LIFETIME: '1d', RATE_LIMIT_WINDOW: '1h' })
  t.equal(c.accessTokenLifetime, 300)
  t.equal(c.refreshTokenLifetime, 86400)
  t.equal(c.rateLimit.window, 3600)
})

t.test('REFRESH_REUSE_INTERVAL: 10 s by default, the duration forms, and 0 (off)', async (t) => {
  t.equal(cfg(t).refreshReuseInterval, 10)
  t.equal(cfg(t, { REFRESH_REUSE_INTERVAL: '0' }).refreshReuseInterval, 0)
  t.equal(cfg(t, { REFRESH_REUSE_INTERVAL: '30s' }).refreshReuseInterval, 30)
  t.equal(cfg(t, { REFRESH_REUSE_INTERVAL: '1m' }).refreshReuseInterval, 60)
  t.equal(parseDuration('X', '0', { allowZero: true }), 0)
  t.throws(() => parseDuration('X', '0'), /X must be at least 1 second/, 'other durations still refuse 0')
})

t.test('DATABASE_URL: file: prefix, plain path, postgres', async (t) => {
  const dir = tempDir(t)
  t.same(loadConfig({ DATABASE_URL: 'file:./x/a.db' }, dir).database, { kind: 'sqlite', path: join(dir, 'x', 'a.db') })
  t.same(loadConfig({ DATABASE_URL: './y/b.db' }, dir).database, { kind: 'sqlite', path: join(dir, 'y', 'b.db') })
  t.same(loadConfig({ DATABASE_URL: 'postgres://u@h:5432/db', JWT_SECRET: 'x'.repeat(32) }, dir).database, { kind: 'postgres', url: 'postgres://u@h:5432/db' })
})

const bad: Array<[string, string, RegExp]> = [
  ['PORT', 'abc', /PORT must be integer/],
  ['TOKEN_CACHE_SIZE', '-1', /TOKEN_CACHE_SIZE must be >= 0/],
  ['USER_CACHE_SIZE', 'lots', /USER_CACHE_SIZE must be integer/],
  ['PORT', '70000', /PORT must be <= 65535/],
  ['ACCESS_TOKEN_LIFETIME', '5 minutes', /ACCESS_TOKEN_LIFETIME must be a duration/],
  ['REFRESH_TOKEN_LIFETIME', '0', /REFRESH_TOKEN_LIFETIME must be at least 1 second/],
  ['REFRESH_REUSE_INTERVAL', '-1', /^REFRESH_REUSE_INTERVAL must be a duration in seconds or with a unit \(e\.g\. 0, 10, 30s, 1m\), got "-1"$/],
  ['REFRESH_REUSE_INTERVAL', 'ten', /REFRESH_REUSE_INTERVAL must be a duration/],
  ['COOKIE_SECURE', 'maybe', /COOKIE_SECURE must be true or false/],
  ['COOKIE_SAMESITE', 'loose', /COOKIE_SAMESITE must be one of/],
  ['RATE_LIMIT_LOGIN_MAX', '0', /RATE_LIMIT_LOGIN_MAX must be >= 1/],
  ['RATE_LIMIT_WINDOW', '-1', /RATE_LIMIT_WINDOW must be a duration/],
  ['TRUST_PROXY', 'everyone', /TRUST_PROXY must be/],
  ['JWT_SECRET', 'too-short', /JWT_SECRET must be at least 32 bytes/],
  ['DATABASE_URL', 'mysql://x/y', /DATABASE_URL must be a SQLite path/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
  ['SQLITE_SYNCHRONOUS', 'off', /SQLITE_SYNCHRONOUS must be one of/],
  ['EMAIL_VERIFICATION', 'always', /EMAIL_VERIFICATION must be one of none, optional, mandatory/],
  ['MAIL_LANGUAGE', 'fr', /MAIL_LANGUAGE must be one of en, ko/],
  ['SMTP_URL', 'http://mail.example.com', /SMTP_URL must be an smtp:\/\//],
  ['SMTP_URL', 'smtp://', /SMTP_URL must be an smtp:\/\//],
  ['SMTP_RETRIES', '-1', /SMTP_RETRIES must be >= 0/],
  ['PUBLIC_URL', 'auth.example.com', /PUBLIC_URL must be an absolute http:\/\/ or https:\/\/ URL/],
  ['PASSWORD_RESET_URL', 'https://app.example.com/reset?x=1', /PASSWORD_RESET_URL must be an absolute .* without \?query/],
  ['EMAIL_VERIFY_URL', 'ftp://x/', /EMAIL_VERIFY_URL must be an absolute http/],
  ['PASSWORD_RESET_LIFETIME', '0', /PASSWORD_RESET_LIFETIME must be at least 1 second/],
  ['EMAIL_VERIFICATION_LIFETIME', 'soon', /EMAIL_VERIFICATION_LIFETIME must be a duration/],
  ['RATE_LIMIT_MAIL_MAX', '0', /RATE_LIMIT_MAIL_MAX must be >= 1/],
  ['REDIS_URL', 'http://127.0.0.1:6379', /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
  ['REDIS_URL', 'redis://', /REDIS_URL must be a redis:\/\//],
  ['RATE_LIMIT_FAIL_OPEN', 'sometimes', /RATE_LIMIT_FAIL_OPEN must be true or false/],
  ['WORKERS', '0', /WORKERS must be a number of processes from 1 to 64, or auto/],
  ['WEBAUTHN_RP_ID', 'https://example.com/', /WEBAUTHN_RP_ID must be a domain name/],
  ['WEBAUTHN_ORIGINS', 'example.com', /WEBAUTHN_ORIGINS must be a comma list of origins/],
  ['WORKERS', 'many', /WORKERS must be a number of processes/],
  ['JWT_ALGORITHM', 'HS512', /JWT_ALGORITHM must be one of HS256, EdDSA, ES256, RS256/],
  ['JWT_PRIVATE_KEY_FILE', '/nonexistent/key.pem', /JWT_PRIVATE_KEY_FILE is set but JWT_ALGORITHM is HS256/],
  ['JWT_KEYS_ENCRYPTION_KEY', 'short', /JWT_KEYS_ENCRYPTION_KEY must be at least 32 bytes/],
  ['INTROSPECTION_SECRET', 'short', /INTROSPECTION_SECRET must be at least 32 bytes/],
  ['METRICS', 'perhaps', /METRICS must be true or false/],
  ['METRICS_PORT', '3001', /METRICS_PORT is set but METRICS is not true/],
  ['PRESSURE_MAX_EVENT_LOOP_DELAY', '-1', /PRESSURE_MAX_EVENT_LOOP_DELAY must be >= 0/],
  ['PRESSURE_MAX_HASH_QUEUE', 'many', /PRESSURE_MAX_HASH_QUEUE must be integer/]
]
for (const [variable, value, message] of bad) {
  t.test(`a bad ${variable} is refused naming the variable`, async (t) => {
    const err = configError(t, { [variable]: value })
    t.equal(err.variable, variable)
    t.match(err.message, message)
  })
}

t.test('account lifecycle defaults: no verification, outbox mail in English, links to the client page', async (t) => {
  const dir = tempDir(t)
  const c = loadConfig({ DATABASE_URL: join(dir, 'a.db') })
  t.equal(c.emailVerification, 'none')
  t.same(c.mail, { smtpUrl: undefined, from: 'auth-service <no-reply@localhost>', language: 'en', retries: 3, outboxDir: join(dir, 'outbox') })
  t.equal(c.publicUrl, 'http://127.0.0.1:3000/')
  t.equal(c.passwordResetUrl, 'http://127.0.0.1:3000/')
  t.equal(c.emailVerifyUrl, 'http://127.0.0.1:3000/')
  t.equal(c.passwordResetLifetime, 3600)
  t.equal(c.emailVerificationLifetime, 3 * 86400)
  t.equal(cfg(t, { HOST: '::1', PORT: '8080' }).publicUrl, 'http://[::1]:8080/', 'PUBLIC_URL follows HOST and PORT')
})

t.test('account lifecycle variables are read', async (t) => {
  const c = cfg(t, {
    EMAIL_VERIFICATION: 'mandatory',
    SMTP_URL: 'smtps://user:pw@mail.example.com:465',
    MAIL_FROM: 'Auth <auth@example.com>',
    MAIL_LANGUAGE: 'ko',
    SMTP_RETRIES: '0',
    PUBLIC_URL: 'https://auth.example.com',
    EMAIL_VERIFY_URL: 'https://app.example.com/verify',
    PASSWORD_RESET_LIFETIME: '30m',
    EMAIL_VERIFICATION_LIFETIME: '1d',
    RATE_LIMIT_MAIL_MAX: '3'
  })
  t.equal(c.emailVerification, 'mandatory')
  t.match(c.mail, { smtpUrl: 'smtps://user:pw@mail.example.com:465', from: 'Auth <auth@example.com>', language: 'ko', retries: 0 })
  t.equal(c.publicUrl, 'https://auth.example.com/')
  t.equal(c.passwordResetUrl, 'https://auth.example.com/', 'PASSWORD_RESET_URL defaults to PUBLIC_URL')
  t.equal(c.emailVerifyUrl, 'https://app.example.com/verify')
  t.equal(c.passwordResetLifetime, 1800)
  t.equal(c.emailVerificationLifetime, 86400)
  t.equal(c.rateLimit.mailMax, 3)
})

t.test('a bad SMTP_URL is refused without repeating it (it may hold a password)', async (t) => {
  const err = configError(t, { SMTP_URL: 'smtp//user:hunter2@mail' })
  t.equal(err.variable, 'SMTP_URL')
  t.notMatch(err.message, /hunter2/)
})

t.test('several instances: REDIS_URL, REDIS_KEY_PREFIX, RATE_LIMIT_FAIL_OPEN, WORKERS', async (t) => {
  const plain = cfg(t)
  t.equal(plain.redis, undefined, 'no Redis by default: counters in memory')
  t.equal(plain.rateLimitFailOpen, false, 'fail closed by default')
  t.equal(plain.workers, 1)
  const shared = cfg(t, { REDIS_URL: 'redis://:pw@127.0.0.1:6380/2', WORKERS: '3', RATE_LIMIT_FAIL_OPEN: 'true' })
  t.same(shared.redis, { url: 'redis://:pw@127.0.0.1:6380/2', keyPrefix: 'auth:' })
  t.equal(shared.workers, 3)
  t.equal(shared.rateLimitFailOpen, true)
  t.equal(cfg(t, { REDIS_URL: 'redis://h', REDIS_KEY_PREFIX: 'svc1:' }).redis?.keyPrefix, 'svc1:')
  t.ok(cfg(t, { REDIS_URL: 'redis://h', WORKERS: 'auto' }).workers >= 1, 'auto = the cores')
})

t.test('WORKERS above 1 without REDIS_URL is refused: the limits would not be shared', async (t) => {
  const err = configError(t, { WORKERS: '2' })
  t.equal(err.variable, 'WORKERS')
  t.equal(err.message, 'WORKERS is 2, which requires REDIS_URL (the rate limits must be shared by the processes)')
})

t.test('a bad REDIS_URL is named without its password', async (t) => {
  const err = configError(t, { REDIS_URL: 'http://user:s3cret@h:1' })
  t.notMatch(err.message, /s3cret/)
  t.match(err.message, /user:\*\*\*@/)
  // Values that do not parse as a URL with a host hold the password anywhere: they are not repeated.
  for (const [variable, value] of [['REDIS_URL', 'redis:/user:s3cret@h'], ['REDIS_URL', 'redis:user:s3cret@h'], ['REDIS_URL', 'redis//user:s3cret@h'],
    ['SMTP_URL', 'smtp:/user:s3cret@mail'], ['SMTP_URL', 'http://user:s3cret@mail/?password=s3cret']] as const) {
    const bad = configError(t, { [variable]: value })
    t.equal(bad.variable, variable, value)
    t.notMatch(bad.message, /s3cret/, `${variable}=${value}: the password is not repeated`)
  }
})

t.test('SameSite=None requires Secure', async (t) => {
  t.throws(() => cfg(t, { COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'false' }), /COOKIE_SAMESITE is "none", which requires COOKIE_SECURE=true/)
  t.equal(cfg(t, { COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'true' }).cookieSameSite, 'none')
})

t.test('TRUST_PROXY: false, hop count, address list; true (trust every client) is refused', async (t) => {
  for (const v of ['true', 'TRUE', 'yes', 'on']) {
    t.throws(() => cfg(t, { TRUST_PROXY: v }), { name: 'ConfigError', variable: 'TRUST_PROXY', message: /^TRUST_PROXY must not be "\w+": that trusts the X-Forwarded-For any client sends; give the number of proxies/ }, v)
  }
  t.equal(cfg(t, { TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(cfg(t, { TRUST_PROXY: '1' }).trustProxy, 1)
  t.equal(cfg(t, { TRUST_PROXY: '2' }).trustProxy, 2)
  t.equal(cfg(t, { TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, '10.0.0.0/8, 127.0.0.1')
})

t.test('a given JWT_SECRET is used as is and nothing is written', async (t) => {
  const dir = tempDir(t)
  const secret = 's'.repeat(40)
  t.equal(loadConfig({ DATABASE_URL: join(dir, 'a.db'), JWT_SECRET: secret }).jwtSecret, secret)
  t.notOk(existsSync(join(dir, 'jwt-secret')))
})

t.test('reading the configuration writes nothing, JWT_SECRET or not', async (t) => {
  const dir = join(tempDir(t), 'not-yet')
  t.equal(loadConfig({ DATABASE_URL: join(dir, 'a.db') }).jwtSecret, undefined)
  t.equal(loadConfig({ DATABASE_URL: join(dir, 'a.db'), JWT_SECRET: '' }).jwtSecret, undefined, 'an empty JWT_SECRET is no JWT_SECRET')
  t.notOk(existsSync(dir), 'no data directory, no jwt-secret file: src/keys/ makes them')
})

t.test('the server exits with one clear line naming a bad variable', async (t) => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: 'not-a-port', DATABASE_URL: join(tempDir(t), 'a.db') },
    encoding: 'utf8',
    timeout: 30_000
  })
  t.equal(res.status, 1)
  const lines = res.stderr.trim().split('\n')
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], /^Invalid configuration: PORT must be integer/)
  t.notMatch(res.stderr, /\bat .*\.ts:\d+/, 'no stack trace')
})

// Issue 14: the automatic token purge and the simplejwt exchange.
t.test('TOKEN_CACHE_SIZE and USER_CACHE_SIZE: 8192 each by default, a count, 0 for none', async (t) => {
  t.match(loadConfig({}), { tokenCacheSize: 8192, userCacheSize: 8192 })
  t.match(loadConfig({ TOKEN_CACHE_SIZE: '65536', USER_CACHE_SIZE: '0' }), { tokenCacheSize: 65536, userCacheSize: 0 })
})

t.test('TOKEN_PURGE_INTERVAL: 1h by default, a duration, or 0/off for never', async (t) => {
  t.equal(cfg(t).tokenPurgeInterval, 3_600_000)
  t.equal(cfg(t, { TOKEN_PURGE_INTERVAL: '30m' }).tokenPurgeInterval, 1_800_000)
  t.equal(cfg(t, { TOKEN_PURGE_INTERVAL: '0' }).tokenPurgeInterval, 0)
  t.equal(cfg(t, { TOKEN_PURGE_INTERVAL: 'off' }).tokenPurgeInterval, 0)
  t.match(configError(t, { TOKEN_PURGE_INTERVAL: 'hourly' }).message, /^TOKEN_PURGE_INTERVAL must be a duration/)
  t.match(configError(t, { TOKEN_PURGE_INTERVAL: '30d' }).message, /^TOKEN_PURGE_INTERVAL must be at most 24d/)
})

t.test('SIMPLEJWT_COMPAT: off by default, a boolean', async (t) => {
  t.equal(cfg(t).simplejwtCompat, false)
  t.equal(cfg(t, { SIMPLEJWT_COMPAT: 'true' }).simplejwtCompat, true)
  t.equal(configError(t, { SIMPLEJWT_COMPAT: 'maybe' }).variable, 'SIMPLEJWT_COMPAT')
})

t.test('gateway settings: defaults, and JWT_PRIVATE_KEY_FILE checked against JWT_ALGORITHM', async (t) => {
  const c = cfg(t)
  t.equal(c.jwtAlgorithm, 'HS256')
  t.equal(c.jwtSecret, undefined)
  t.same(c.metrics, { enabled: false })
  t.same(c.pressure, { maxEventLoopDelay: 1000, maxHashQueue: 128 })
  t.equal(c.introspectionSecret, undefined)
  t.equal(cfg(t, { JWT_SECRET: 's'.repeat(40) }).jwtSecret, 's'.repeat(40))
  t.same(cfg(t, { METRICS: 'true', METRICS_PORT: '0' }).metrics, { enabled: true, port: 0 })
  const dir = tempDir(t)
  const { generateKeyPairSync } = await import('node:crypto')
  const { writeFileSync } = await import('node:fs')
  const ed = join(dir, 'ed.pem')
  writeFileSync(ed, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }))
  t.match(cfg(t, { JWT_ALGORITHM: 'EdDSA', JWT_PRIVATE_KEY_FILE: ed }).jwtPrivateKeyPem, /BEGIN PRIVATE KEY/)
  t.match(configError(t, { JWT_ALGORITHM: 'ES256', JWT_PRIVATE_KEY_FILE: ed }).message, /^JWT_PRIVATE_KEY_FILE holds a key for EdDSA, but JWT_ALGORITHM is ES256/)
  t.match(configError(t, { JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY_FILE: join(dir, 'missing.pem') }).message, /^JWT_PRIVATE_KEY_FILE cannot be read/)
  const junk = join(dir, 'junk.pem')
  writeFileSync(junk, 'not a key')
  t.match(configError(t, { JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY_FILE: junk }).message, /^JWT_PRIVATE_KEY_FILE holds no PEM private key/)
  const rsa = join(dir, 'rsa1024.pem')
  writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  t.match(configError(t, { JWT_ALGORITHM: 'RS256', JWT_PRIVATE_KEY_FILE: rsa }).message, /shorter than 2048 bits/)
})

t.test('WEBAUTHN_*: defaults from PUBLIC_URL; an IP-address RP ID turns passkeys off with the reason', async (t) => {
  const byDefault = cfg(t).webauthn
  t.same(byDefault.rpId, '127.0.0.1')
  t.match(byDefault.unavailable, /IP address.*set PUBLIC_URL to a host name \(e\.g\. http:\/\/localhost:3000\/\)/)
  t.match(cfg(t, { HOST: '::1' }).webauthn.unavailable, /IP address/, 'an IPv6 address too')
  t.same(cfg(t, { PUBLIC_URL: 'https://auth.example.com/app/' }).webauthn,
    { rpId: 'auth.example.com', rpName: 'auth.example.com', origins: ['https://auth.example.com'] }, 'the host and origin of PUBLIC_URL; the name is the host')
  t.same(cfg(t, { PUBLIC_URL: 'http://localhost:3000/', WEBAUTHN_RP_ID: 'Example.com', WEBAUTHN_RP_NAME: 'Example', WEBAUTHN_ORIGINS: 'https://a.example.com, https://b.example.com' }).webauthn,
    { rpId: 'example.com', rpName: 'Example', origins: ['https://a.example.com', 'https://b.example.com'] })
  const err = configError(t, { PUBLIC_URL: 'https://auth.example.com/', WEBAUTHN_ORIGINS: 'https://auth.example.com,https://example.org' })
  t.equal(err.variable, 'WEBAUTHN_ORIGINS')
  t.match(err.message, /lists https:\/\/example\.org, whose host is neither the RP ID "auth\.example\.com" nor a subdomain of it/, 'an origin the browser would refuse for this RP ID')
})

t.test('MFA_ISSUER: the host name of PUBLIC_URL by default; no colon; WEBAUTHN_RP_NAME defaults to it', async (t) => {
  t.equal(cfg(t).mfaIssuer, '127.0.0.1')
  t.equal(cfg(t, { PUBLIC_URL: 'https://auth.example.com:8443/app/' }).mfaIssuer, 'auth.example.com', 'the host name, without the port')
  t.equal(cfg(t, { HOST: '::1' }).mfaIssuer, '--1', 'an IPv6 host: no colon, the start does not fail')
  const set = cfg(t, { PUBLIC_URL: 'https://auth.example.com/', MFA_ISSUER: ' Example Co ' })
  t.equal(set.mfaIssuer, 'Example Co')
  t.equal(set.webauthn.rpName, 'Example Co', 'the name authenticators show, for passkeys too')
  t.equal(cfg(t, { MFA_ISSUER: 'Example Co', WEBAUTHN_RP_NAME: 'Passkeys Co' }).webauthn.rpName, 'Passkeys Co', 'WEBAUTHN_RP_NAME wins')
  const err = configError(t, { MFA_ISSUER: 'Example:Co' })
  t.equal(err.variable, 'MFA_ISSUER')
  t.match(err.message, /must not contain ":"/)
})
