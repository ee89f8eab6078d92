import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { driverCode, MfaRequiredError, NotReadyError, OverloadedError, PasskeysUnavailableError, ShuttingDownError, StorageUnavailableError } from '../../src/errors.js'
import { NO_NUL, TOKEN_MAX_LENGTH, TOKEN_TEXT } from '../../src/schemas.js'
import { pathOf } from './request-log.js'

interface Detail { field: string, message: string }

/**
 * Fastify's own error codes → the contract's. (No FST_ERR_CTP_EMPTY_JSON_BODY
 * or FST_ERR_CTP_INVALID_JSON_BODY: they come from Fastify's JSON parser, which
 * plugins/app/body.ts replaces; its errors are VALIDATION_ERRORs already.)
 */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR',
  FST_ERR_VALIDATION: 'VALIDATION_ERROR'
}

/**
 * The one `details` entry of a VALIDATION_ERROR that is not about a field of a
 * parsed body (the contract: every VALIDATION_ERROR has a non-empty `details`).
 */
const FASTIFY_DETAILS: Record<string, Detail> = {
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { field: 'content-length', message: 'does not match the size of the body received' },
  FST_ERR_BAD_URL: { field: 'url', message: 'is not a valid URL (malformed %-encoding)' }
}

const NUL_MESSAGE = 'must not contain NUL (\\u0000) characters'

/** The value a validation error points at (`instancePath`, a JSON pointer) in what was validated. */
function valueAt (root: unknown, pointer: string): unknown {
  let value = root
  for (const segment of pointer.split('/').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[segment.replaceAll('~1', '/').replaceAll('~0', '~')]
  }
  return value
}

/**
 * What is wrong with a token field (TOKEN_TEXT, one expression for three
 * rules), in the words of the rule it breaks: as if it were checked by
 * NO_NUL, `minLength: 1` and `maxLength: TOKEN_MAX_LENGTH`.
 */
function tokenTextProblem (value: unknown): string {
  if (typeof value === 'string' && value.includes('\u0000')) return NUL_MESSAGE
  return value === '' ? 'must NOT have fewer than 1 characters' : `must NOT have more than ${TOKEN_MAX_LENGTH} characters`
}

const VALIDATED = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' } as const

/**
 * Ajv errors → one `{field, message}` per problem. A union such as
 * `"male" | "female" | null` fails every branch; its errors are folded into one.
 */
function validationDetails (err: FastifyError, request: FastifyRequest): Detail[] {
  const byField = new Map<string, Array<{ keyword: string, message: string, allowed?: unknown }>>()
  for (const v of err.validation ?? []) {
    const params = v.params as Record<string, unknown>
    const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.')
    const child = (params.missingProperty ?? params.additionalProperty) as string | undefined
    const field = [path, child].filter((p) => p !== undefined && p !== '').join('.') || (err.validationContext ?? 'body')
    const message = params.additionalProperty !== undefined
      ? 'is not an allowed field'
      : params.pattern === NO_NUL
        ? NUL_MESSAGE
        : params.pattern === TOKEN_TEXT
          ? tokenTextProblem(valueAt(request[VALIDATED[err.validationContext ?? 'body']], v.instancePath))
          : (v.message ?? 'is invalid')
    const list = byField.get(field) ?? []
    list.push({ keyword: v.keyword, message, allowed: params.allowedValue })
    byField.set(field, list)
  }
  const details: Detail[] = []
  for (const [field, list] of byField) {
    if (!list.some((e) => e.keyword === 'anyOf')) {
      for (const e of list) details.push({ field, message: e.message })
      continue
    }
    const allowed = list.filter((e) => e.keyword === 'const').map((e) => JSON.stringify(e.allowed))
    const nullable = list.some((e) => e.keyword === 'type' && e.message === 'must be null')
    const specific = list.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'const' && e.message !== 'must be null')
    const message = allowed.length > 0
      ? `must be one of ${[...allowed, ...(nullable ? ['null'] : [])].join(', ')}`
      : `${specific?.message ?? 'is invalid'}${nullable ? ' (or be null)' : ''}`
    details.push({ field, message })
  }
  return details
}

// Registered by src/app.ts before every autoloaded folder, so that the routes
// and hooks of packages inherit it; the folder's autoload skips this file.
export const autoload = false

/**
 * The one place errors become responses, in the contract's shape:
 * {statusCode, error, code, message[, details]}. Domain errors carry their code;
 * Fastify's are mapped; anything unexpected is a 500 without internals.
 */
export default fp(async (app) => {
  app.setErrorHandler(async function (err: FastifyError & { details?: Detail[] }, request: FastifyRequest, reply: FastifyReply) {
    let statusCode = err.statusCode ?? 500
    let code = FASTIFY_CODES[err.code] ?? err.code
    let message = err.message
    let details = err.details

    if (err.validation !== undefined) {
      code = 'VALIDATION_ERROR'
      details = validationDetails(err, request)
      message = 'Invalid request: ' + details.map((d) => `${d.field} ${d.message}`).join('; ')
    } else if (err instanceof ShuttingDownError) {
      // A new request while closing: another instance (or this one restarted) can take it.
      code = 'SERVICE_UNAVAILABLE'
      void reply.header('retry-after', '1')
    } else if (err instanceof OverloadedError) {
      // Saturated (under-pressure, the hash queue): shed this request rather than queue it without bound.
      code = 'SERVICE_UNAVAILABLE'
      void reply.header('retry-after', '2')
    } else if (err instanceof NotReadyError) {
      void reply.header('retry-after', '5')
    } else if (err instanceof StorageUnavailableError) {
      // The stores (src/db/*/errors.ts) and the shared rate limits say so;
      // logged as the driver's error and code when there is one.
      statusCode = 503
      code = 'SERVICE_UNAVAILABLE'
      message = 'The service cannot use its storage right now; try again shortly.'
      const storage = driverCode(err)
      request.log.error({ err: storage === undefined ? err : err.cause, storage: storage ?? err.code }, 'storage unavailable')
      void reply.header('retry-after', '5')
    } else if (err instanceof PasskeysUnavailableError) {
      // 501 as it is: a configuration the operator can fix, said in the message.
    } else if (statusCode >= 500 || statusCode < 400) {
      request.log.error({ err }, 'unhandled error')
      statusCode = 500
      code = 'INTERNAL_ERROR'
      message = 'Internal server error.'
    } else if (statusCode === 400 && (code === undefined || !/^[A-Z_]+$/.test(code) || code.startsWith('FST_'))) {
      // Malformed JSON, forbidden keys such as __proto__, bad Content-Length…
      code = 'VALIDATION_ERROR'
    } else if (code === undefined || code.startsWith('FST_')) {
      code = STATUS_CODES[statusCode]?.toUpperCase().replace(/[^A-Z]+/g, '_') ?? 'ERROR'
    }
    if (code === 'VALIDATION_ERROR' && (details === undefined || details.length === 0)) {
      details = [FASTIFY_DETAILS[err.code] ?? { field: 'request', message: `is invalid: ${message}` }]
    }
    const refusedToken = code.startsWith('TOKEN_') && code !== 'TOKEN_MISSING'
    // RFC 6750: a presented token that failed is "invalid_token"; anything else is a bare challenge.
    if (statusCode === 401) void reply.header('www-authenticate', refusedToken ? `Bearer error="invalid_token", error_description="${code}"` : 'Bearer')
    // An audit line for a refused token or a rate limit, not for an absent
    // credential: that is no security event, and a gateway asks about every
    // anonymous request (each public page). Its request line records the 401.
    if (code === 'RATE_LIMITED' || refusedToken) {
      request.log.info({ event: code.toLowerCase(), ip: request.ip, url: pathOf(request) }, 'auth refused')
    }

    return await reply.code(statusCode).send({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      code,
      message,
      ...(details === undefined ? {} : { details }),
      // What the client needs to go on with a login that waits for its second factor.
      ...(err instanceof MfaRequiredError ? { mfa_token: err.mfaToken, methods: err.methods } : {})
    })
  })

  app.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      code: 'NOT_FOUND',
      message: `Route ${request.method} ${pathOf(request)} not found.`
    })
  })
}, { name: 'errors' })
