import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, loadConfig, parseDuration } from '../src/config.js'
import { tempDir } from './helper.js'

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
  t.same(c.rateLimit, { loginMax: 10, joinMax: 20, window: 60 })
  t.equal(c.trustProxy, false)
  t.equal(c.sqliteSynchronous, 'full')
  t.ok(Buffer.byteLength(c.jwtSecret) >= 32, 'a generated secret of at least 32 bytes')
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

t.test('DATABASE_URL: file: prefix, plain path, postgres', async (t) => {
  const dir = tempDir(t)
  t.same(loadConfig({ DATABASE_URL: 'file:./x/a.db' }, dir).database, { kind: 'sqlite', path: join(dir, 'x', 'a.db') })
  t.same(loadConfig({ DATABASE_URL: './y/b.db' }, dir).database, { kind: 'sqlite', path: join(dir, 'y', 'b.db') })
  t.same(loadConfig({ DATABASE_URL: 'postgres://u@h:5432/db', JWT_SECRET: 'x'.repeat(32) }, dir).database, { kind: 'postgres', url: 'postgres://u@h:5432/db' })
})

const bad: Array<[string, string, RegExp]> = [
  ['PORT', 'abc', /PORT must be integer/],
  ['PORT', '70000', /PORT must be <= 65535/],
  ['ACCESS_TOKEN_LIFETIME', '5 minutes', /ACCESS_TOKEN_LIFETIME must be a duration/],
  ['REFRESH_TOKEN_LIFETIME', '0', /REFRESH_TOKEN_LIFETIME must be at least 1 second/],
  ['COOKIE_SECURE', 'maybe', /COOKIE_SECURE must be true or false/],
  ['COOKIE_SAMESITE', 'loose', /COOKIE_SAMESITE must be one of/],
  ['RATE_LIMIT_LOGIN_MAX', '0', /RATE_LIMIT_LOGIN_MAX must be >= 1/],
  ['RATE_LIMIT_WINDOW', '-1', /RATE_LIMIT_WINDOW must be a duration/],
  ['TRUST_PROXY', 'everyone', /TRUST_PROXY must be/],
  ['JWT_SECRET', 'too-short', /JWT_SECRET must be at least 32 bytes/],
  ['DATABASE_URL', 'mysql://x/y', /DATABASE_URL must be a SQLite path/],
  ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
  ['SQLITE_SYNCHRONOUS', 'off', /SQLITE_SYNCHRONOUS must be one of/],
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

t.test('SameSite=None requires Secure', async (t) => {
  t.throws(() => cfg(t, { COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'false' }), /COOKIE_SAMESITE is "none", which requires COOKIE_SECURE=true/)
  t.equal(cfg(t, { COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'true' }).cookieSameSite, 'none')
})

t.test('TRUST_PROXY: boolean, hop count, address list', async (t) => {
  t.equal(cfg(t, { TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(cfg(t, { TRUST_PROXY: '2' }).trustProxy, 2)
  t.equal(cfg(t, { TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy, '10.0.0.0/8, 127.0.0.1')
})

t.test('a given JWT_SECRET is used as is and nothing is written', async (t) => {
  const dir = tempDir(t)
  const secret = 's'.repeat(40)
  t.equal(loadConfig({ DATABASE_URL: join(dir, 'a.db'), JWT_SECRET: secret }).jwtSecret, secret)
  t.notOk(existsSync(join(dir, 'jwt-secret')))
})

t.test('without JWT_SECRET one is generated once, kept with mode 0600', async (t) => {
  const dir = tempDir(t)
  const first = loadConfig({ DATABASE_URL: join(dir, 'a.db') }).jwtSecret
  const file = join(dir, 'jwt-secret')
  t.equal(statSync(file).mode & 0o777, 0o600)
  t.equal(readFileSync(file, 'utf8'), first)
  t.equal(loadConfig({ DATABASE_URL: join(dir, 'a.db') }).jwtSecret, first, 'the same secret on the next start')
  const other = tempDir(t)
  t.not(loadConfig({ DATABASE_URL: join(other, 'a.db') }).jwtSecret, first, 'another data dir gets its own')
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

t.test('gateway settings: defaults, and JWT_PRIVATE_KEY_FILE checked against JWT_ALGORITHM', async (t) => {
  const c = cfg(t)
  t.equal(c.jwtAlgorithm, 'HS256')
  t.equal(c.jwtSecretExplicit, false)
  t.same(c.metrics, { enabled: false })
  t.same(c.pressure, { maxEventLoopDelay: 1000, maxHashQueue: 128 })
  t.equal(c.introspectionSecret, undefined)
  t.equal(cfg(t, { JWT_SECRET: 's'.repeat(40) }).jwtSecretExplicit, true)
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
