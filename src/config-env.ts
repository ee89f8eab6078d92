/*
 * The environment variables the service reads: their JSON schema (types,
 * bounds, defaults) and `parseEnv`, which coerces and checks them (config.ts
 * then parses the richer forms).
 *
 * From the sources (tests, `npm run dev`) `parseEnv` is env-schema's ajv. Loading
 * ajv and compiling this schema was about 110 ms of CPU at every start, so
 * `npm run build` replaces the compiled module, dist/src/config-env.js, with
 * ajv's standalone code for the same schema and options
 * (scripts/compile-config-env.mjs): the same checks, compiled at build time.
 */
import envSchema from 'env-schema'
import { ALGORITHMS, type Algorithm } from './keys/algorithms.js'

// Everything is a string here on purpose: env vars are strings, and the
// richer forms (durations, booleans, proxy lists) are parsed below so that
// every error can name its variable in one line.
export const schema = {
  type: 'object',
  // env-schema sets it anyway (ajv's removeAdditional then drops every other variable).
  additionalProperties: false,
  properties: {
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1' },
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    DATABASE_URL: { type: 'string', minLength: 1, default: 'file:./data/auth.db' },
    SQLITE_SYNCHRONOUS: { type: 'string', enum: ['full', 'normal', 'FULL', 'NORMAL'], default: 'full' },
    SQLITE_BUSY_TIMEOUT: { type: 'integer', minimum: 0, maximum: 600000, default: 5000 },
    JWT_SECRET: { type: 'string' },
    JWT_ALGORITHM: { type: 'string', enum: [...ALGORITHMS], default: 'HS256' },
    JWT_PRIVATE_KEY_FILE: { type: 'string' },
    JWT_KEYS_ENCRYPTION_KEY: { type: 'string' },
    INTROSPECTION_SECRET: { type: 'string' },
    METRICS: { type: 'string', default: 'false' },
    METRICS_PORT: { type: 'integer', minimum: 0, maximum: 65535 },
    PRESSURE_MAX_EVENT_LOOP_DELAY: { type: 'integer', minimum: 0, default: 1000 },
    PRESSURE_MAX_HASH_QUEUE: { type: 'integer', minimum: 0, default: 128 },
    ACCESS_TOKEN_LIFETIME: { type: 'string', default: '300' },
    REFRESH_TOKEN_LIFETIME: { type: 'string', default: '86400' },
    REFRESH_REUSE_INTERVAL: { type: 'string', default: '10' },
    COOKIE_SECURE: { type: 'string', default: 'true' },
    COOKIE_SAMESITE: { type: 'string', enum: ['lax', 'strict', 'none', 'Lax', 'Strict', 'None'], default: 'lax' },
    RATE_LIMIT_LOGIN_MAX: { type: 'integer', minimum: 1, default: 10 },
    RATE_LIMIT_JOIN_MAX: { type: 'integer', minimum: 1, default: 20 },
    RATE_LIMIT_WINDOW: { type: 'string', default: '60' },
    TRUST_PROXY: { type: 'string', default: 'false' },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    ARGON2_MEMORY_KIB: { type: 'integer', minimum: 19456, maximum: 4194304, default: 19456 },
    ARGON2_ITERATIONS: { type: 'integer', minimum: 2, maximum: 64, default: 2 },
    ARGON2_PARALLELISM: { type: 'integer', minimum: 1, maximum: 16, default: 1 },
    SHUTDOWN_GRACE: { type: 'string', default: '10' },
    SERVE_CLIENT: { type: 'string', default: 'true' },
    CORS_ORIGINS: { type: 'string', default: '' },
    EMAIL_VERIFICATION: { type: 'string', enum: ['none', 'optional', 'mandatory'], default: 'none' },
    SMTP_URL: { type: 'string', default: '' },
    MAIL_FROM: { type: 'string', minLength: 3, default: 'auth-service <no-reply@localhost>' },
    MAIL_LANGUAGE: { type: 'string', enum: ['en', 'ko'], default: 'en' },
    SMTP_RETRIES: { type: 'integer', minimum: 0, maximum: 10, default: 3 },
    PUBLIC_URL: { type: 'string', default: '' },
    PASSWORD_RESET_URL: { type: 'string', default: '' },
    EMAIL_VERIFY_URL: { type: 'string', default: '' },
    PASSWORD_RESET_LIFETIME: { type: 'string', default: '1h' },
    EMAIL_VERIFICATION_LIFETIME: { type: 'string', default: '3d' },
    RATE_LIMIT_MAIL_MAX: { type: 'integer', minimum: 1, default: 5 },
    REDIS_URL: { type: 'string', default: '' },
    REDIS_KEY_PREFIX: { type: 'string', maxLength: 100, default: 'auth:' },
    RATE_LIMIT_FAIL_OPEN: { type: 'string', default: 'false' },
    WORKERS: { type: 'string', default: '1' },
    TOKEN_PURGE_INTERVAL: { type: 'string', default: '1h' },
    SIMPLEJWT_COMPAT: { type: 'string', default: 'false' }
  }
} as const

export interface RawEnv {
  HOST: string
  PORT: number
  DATABASE_URL: string
  SQLITE_SYNCHRONOUS: string
  SQLITE_BUSY_TIMEOUT: number
  JWT_SECRET?: string
  JWT_ALGORITHM: Algorithm
  JWT_PRIVATE_KEY_FILE?: string
  JWT_KEYS_ENCRYPTION_KEY?: string
  INTROSPECTION_SECRET?: string
  METRICS: string
  METRICS_PORT?: number
  PRESSURE_MAX_EVENT_LOOP_DELAY: number
  PRESSURE_MAX_HASH_QUEUE: number
  ACCESS_TOKEN_LIFETIME: string
  REFRESH_TOKEN_LIFETIME: string
  REFRESH_REUSE_INTERVAL: string
  COOKIE_SECURE: string
  COOKIE_SAMESITE: string
  RATE_LIMIT_LOGIN_MAX: number
  RATE_LIMIT_JOIN_MAX: number
  RATE_LIMIT_WINDOW: string
  TRUST_PROXY: string
  LOG_LEVEL: string
  ARGON2_MEMORY_KIB: number
  ARGON2_ITERATIONS: number
  ARGON2_PARALLELISM: number
  SHUTDOWN_GRACE: string
  SERVE_CLIENT: string
  CORS_ORIGINS: string
  EMAIL_VERIFICATION: 'none' | 'optional' | 'mandatory'
  SMTP_URL: string
  MAIL_FROM: string
  MAIL_LANGUAGE: 'en' | 'ko'
  SMTP_RETRIES: number
  PUBLIC_URL: string
  PASSWORD_RESET_URL: string
  EMAIL_VERIFY_URL: string
  PASSWORD_RESET_LIFETIME: string
  EMAIL_VERIFICATION_LIFETIME: string
  RATE_LIMIT_MAIL_MAX: number
  REDIS_URL: string
  REDIS_KEY_PREFIX: string
  RATE_LIMIT_FAIL_OPEN: string
  WORKERS: string
  TOKEN_PURGE_INTERVAL: string
  SIMPLEJWT_COMPAT: string
}

/**
 * The environment checked against `schema`: numbers coerced, defaults filled
 * in, unknown variables dropped. Throws an error whose `errors` are ajv's.
 */
export function parseEnv (env: Record<string, string | undefined>): RawEnv {
  return envSchema<RawEnv>({ schema, data: { ...env }, env: false, dotenv: false })
}
