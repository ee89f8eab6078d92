/*
 * The environment variables the service reads: their schema (types, bounds,
 * defaults) and `parseEnv`, which coerces and checks them (config.ts then
 * parses the richer forms). TypeBox's value checker does it, without
 * compiling anything: the start already loads TypeBox for the routes' schemas.
 */
import { Type, type Static } from 'typebox'
import Value from 'typebox/value'
import { ALGORITHMS } from './keys/algorithms.js'

/** TOKEN_CACHE_SIZE's default: access tokens remembered as verified (src/keys/keyring.ts). */
export const VERIFIED_TOKENS_CACHED = 8192
/** USER_CACHE_SIZE's default: users remembered by either store's user cache (src/db/sqlite, src/db/postgres). */
export const USERS_CACHED = 8192

// Most variables are strings here on purpose: env vars are strings, and the
// richer forms (durations, booleans, proxy lists) are parsed in config.ts so
// that every error can name its variable in one line.
export const EnvSchema = Type.Object({
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  DATABASE_URL: Type.String({ minLength: 1, default: 'file:./data/auth.db' }),
  SQLITE_SYNCHRONOUS: Type.Enum(['full', 'normal', 'FULL', 'NORMAL'], { default: 'full' }),
  SQLITE_BUSY_TIMEOUT: Type.Integer({ minimum: 0, maximum: 600000, default: 5000 }),
  TOKEN_CACHE_SIZE: Type.Integer({ minimum: 0, maximum: 10000000, default: VERIFIED_TOKENS_CACHED }),
  USER_CACHE_SIZE: Type.Integer({ minimum: 0, maximum: 10000000, default: USERS_CACHED }),
  JWT_SECRET: Type.Optional(Type.String()),
  JWT_ALGORITHM: Type.Enum(ALGORITHMS, { default: 'HS256' }),
  JWT_PRIVATE_KEY_FILE: Type.Optional(Type.String()),
  JWT_KEYS_ENCRYPTION_KEY: Type.Optional(Type.String()),
  JWT_ISSUER: Type.Optional(Type.String()),
  JWT_AUDIENCE: Type.Optional(Type.String()),
  INTROSPECTION_SECRET: Type.Optional(Type.String()),
  METRICS: Type.String({ default: 'false' }),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  PRESSURE_MAX_EVENT_LOOP_DELAY: Type.Integer({ minimum: 0, default: 1000 }),
  PRESSURE_MAX_HASH_QUEUE: Type.Integer({ minimum: 0, default: 128 }),
  ACCESS_TOKEN_LIFETIME: Type.String({ default: '300' }),
  REFRESH_TOKEN_LIFETIME: Type.String({ default: '86400' }),
  REFRESH_REUSE_INTERVAL: Type.String({ default: '10' }),
  COOKIE_SECURE: Type.String({ default: 'true' }),
  COOKIE_SAMESITE: Type.Enum(['lax', 'strict', 'none', 'Lax', 'Strict', 'None'], { default: 'lax' }),
  RATE_LIMIT_LOGIN_MAX: Type.Integer({ minimum: 1, default: 10 }),
  RATE_LIMIT_JOIN_MAX: Type.Integer({ minimum: 1, default: 20 }),
  RATE_LIMIT_PASSWORD_CHECK_MAX: Type.Integer({ minimum: 1, default: 5 }),
  RATE_LIMIT_WINDOW: Type.String({ default: '60' }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
  ARGON2_MEMORY_KIB: Type.Integer({ minimum: 19456, maximum: 4194304, default: 19456 }),
  ARGON2_ITERATIONS: Type.Integer({ minimum: 2, maximum: 64, default: 2 }),
  ARGON2_PARALLELISM: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
  SHUTDOWN_GRACE: Type.String({ default: '10' }),
  SERVE_CLIENT: Type.String({ default: 'true' }),
  CORS_ORIGINS: Type.String({ default: '' }),
  EMAIL_VERIFICATION: Type.Enum(['none', 'optional', 'mandatory'], { default: 'none' }),
  SMTP_URL: Type.String({ default: '' }),
  MAIL_FROM: Type.String({ minLength: 3, default: 'auth-service <no-reply@localhost>' }),
  MAIL_LANGUAGE: Type.Enum(['en', 'ko'], { default: 'en' }),
  SMTP_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 3 }),
  PUBLIC_URL: Type.String({ default: '' }),
  PASSWORD_RESET_URL: Type.String({ default: '' }),
  EMAIL_VERIFY_URL: Type.String({ default: '' }),
  PASSWORD_RESET_LIFETIME: Type.String({ default: '1h' }),
  EMAIL_VERIFICATION_LIFETIME: Type.String({ default: '3d' }),
  RATE_LIMIT_MAIL_MAX: Type.Integer({ minimum: 1, default: 5 }),
  REDIS_URL: Type.String({ default: '' }),
  REDIS_KEY_PREFIX: Type.String({ maxLength: 100, default: 'auth:' }),
  RATE_LIMIT_FAIL_OPEN: Type.String({ default: 'false' }),
  WORKERS: Type.String({ default: '1' }),
  TOKEN_PURGE_INTERVAL: Type.String({ default: '1h' }),
  SIMPLEJWT_COMPAT: Type.String({ default: 'false' }),
  WEBAUTHN_RP_ID: Type.String({ default: '' }),
  WEBAUTHN_RP_NAME: Type.String({ maxLength: 100, default: '' }),
  WEBAUTHN_ORIGINS: Type.String({ default: '' }),
  SIMPLEJWT_SIGNING_KEY: Type.Optional(Type.String()),
  PWNED_PASSWORDS_URL: Type.String({ default: '' }),
  MFA_ISSUER: Type.String({ maxLength: 100, default: '' })
})

/** The environment as `parseEnv` returns it. */
export type RawEnv = Static<typeof EnvSchema>

/** The variables that are numbers. */
const INTEGERS = Object.entries(EnvSchema.properties).filter(([, schema]) => (schema as { type?: unknown }).type === 'integer').map(([name]) => name)

/** A problem with one variable, in the shape of a JSON-schema validator's error. */
export interface EnvProblem { instancePath: string, keyword: string, message: string, params: Record<string, unknown> }

/**
 * The environment checked against `EnvSchema`: defaults filled in, numbers
 * converted, unknown variables dropped. Throws an error whose `errors` list
 * the problems.
 */
export function parseEnv (env: Record<string, string | undefined>): RawEnv {
  const given: Record<string, unknown> = { ...env }
  for (const name of INTEGERS) {
    const value = given[name]
    // Whole numbers only ("80.5" is refused, not truncated); empty is unset.
    if (typeof value === 'string' && value.trim() === '') delete given[name]
    else if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) given[name] = Number(value)
  }
  const data = Value.Clean(EnvSchema, Value.Default(EnvSchema, given))
  if (Value.Check(EnvSchema, data)) return data
  const errors = [...Value.Errors(EnvSchema, data)] as EnvProblem[]
  throw Object.assign(new Error(`invalid environment: ${errors.map((e) => `${e.instancePath} ${e.message}`).join(', ')}`), { errors })
}
