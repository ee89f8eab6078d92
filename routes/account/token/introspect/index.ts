import { createHash, timingSafeEqual } from 'node:crypto'
import { parse as parseQuery } from 'node:querystring'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { BEARER } from '../../../../plugins/app/authenticate.js'
import { FieldValidationError, IntrospectionUnauthorizedError } from '../../../../src/errors.js'
import { errors, IntrospectBody, Introspection } from '../../../../src/schemas.js'

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/**
 * The secret presented as `Authorization: Bearer <secret>` or as the password
 * of `Basic` credentials (any client id), compared in constant time (SHA-256
 * digests of equal length: neither the content nor the length leaks).
 */
function presentedSecret (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization ?? ''
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
    schema: { body: IntrospectBody, response: { 200: Introspection, ...errors(401) } },
    // Authenticated before the body is read: without the secret nothing is parsed.
    onRequest: async (request) => {
      const presented = presentedSecret(request)
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw new IntrospectionUnauthorizedError()
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
