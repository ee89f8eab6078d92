import { createHash, timingSafeEqual } from 'node:crypto'
import { parse as parseQuery } from 'node:querystring'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { BEARER } from '../../../../plugins/app/authenticate.js'
import { FieldValidationError, IntrospectionMultipleCredentialsError, IntrospectionUnauthorizedError } from '../../../../src/errors.js'
import { errors, IntrospectBody, Introspection } from '../../../../src/schemas.js'

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/**
 * The secret presented in the Authorization header: `Bearer <secret>`, or the
 * password of `Basic` credentials (any client id). `null` without the header;
 * undefined when the header holds no usable secret.
 */
function headerSecret (request: FastifyRequest): string | undefined | null {
  const header = request.headers.authorization
  if (header === undefined || header === '') return null
  const bearer = BEARER.exec(header)
  if (bearer !== null) return bearer[1]
  const basic = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header)
  if (basic === null) return undefined
  const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  // RFC 6749 §2.3.1: client credentials are form-urlencoded before Basic encoding.
  if (colon < 0) return undefined
  try {
    return decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' '))
  } catch {
    return decoded.slice(colon + 1)
  }
}

/**
 * The secret presented in the body (RFC 6749 §2.3.1, client_secret_post):
 * `client_secret` with a `client_id` (any), both strings. `null` when the body
 * has no `client_secret`; undefined when it has one that is not usable. A
 * `client_id` alone is no credential (some clients send it beside Basic).
 */
function bodySecret (body: unknown): string | undefined | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Object.hasOwn(body, 'client_secret')) return null
  const { client_id: id, client_secret: secret } = body as Record<string, unknown>
  return typeof id === 'string' && typeof secret === 'string' ? secret : undefined
}

/**
 * RFC 7662 token introspection, for resource servers that would rather ask
 * than verify: only with INTROSPECTION_SECRET configured (otherwise no route,
 * so a 404: never an open token oracle).
 */
const introspect: FastifyPluginAsyncTypebox = async (app) => {
  const secret = app.config.introspectionSecret
  if (secret === undefined) return
  const expected = digest(secret)

  // RFC 7662 §2.1 requires application/x-www-form-urlencoded; JSON is accepted
  // too. This parser exists in this route's scope only: no other route takes forms.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const fields = parseQuery(body as string)
    for (const [field, value] of Object.entries(fields)) {
      if (Array.isArray(value)) { done(new FieldValidationError([{ field, message: 'must be given once' }]), undefined); return }
    }
    done(null, { ...fields })
  })

  app.post('', {
    schema: { tags: ['gateway'], body: IntrospectBody, response: { 200: Introspection, ...errors(401) } },
    // Authenticated once the body is parsed (it may hold the credentials), and
    // before it is validated or its token looked at: without the secret a
    // request learns nothing of the schema or the token (only a body that does
    // not parse is refused first, as on any route). The secrets are compared as
    // SHA-256 digests of equal length, in constant time: neither content nor length leaks.
    preValidation: async (request) => {
      const fromHeader = headerSecret(request)
      const fromBody = bodySecret(request.body)
      // RFC 6749 §2.3: a client uses one authentication method per request.
      if (fromHeader !== null && fromBody !== null) throw new IntrospectionMultipleCredentialsError()
      const presented = fromHeader !== null ? fromHeader : fromBody
      if (presented === null || presented === undefined || !timingSafeEqual(digest(presented), expected)) throw new IntrospectionUnauthorizedError()
    }
  }, async (request, reply) => {
    void reply.header('cache-control', 'no-store')
    try {
      const claims = await app.tokens.verify(request.body.token)
      const { token_type: tokenType, sub, user_id: userId, exp, iat, jti, email, iss, aud } = claims
      return { active: true, token_type: tokenType, sub, user_id: userId, exp, iat, jti, ...(email === undefined ? {} : { email }), ...(iss === undefined ? {} : { iss }), ...(aud === undefined ? {} : { aud }) }
    } catch (err) {
      // Expired, forged, revoked, of a deactivated user…: all just inactive (§2.2).
      const code = (err as { code?: unknown }).code
      if (typeof code === 'string' && code.startsWith('TOKEN_')) return { active: false }
      throw err
    }
  })
}

export default introspect
