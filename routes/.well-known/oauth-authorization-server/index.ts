import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static } from 'typebox'
import type { Config } from '../../../src/config.js'
import { AuthorizationServerMetadata } from '../../../src/schemas.js'
import { issuerOf } from '../../../src/tokens/issuer.js'

/** The client authentication methods POST /account/token/introspect accepts (RFC 8414 §2 names). */
const INTROSPECTION_AUTH_METHODS = ['client_secret_basic', 'client_secret_post']

/**
 * The metadata document, made once from the configuration (it changes only
 * with a restart). Nothing is announced that does not work:
 * - `jwks_uri` only under an asymmetric JWT_ALGORITHM: under HS256 the set is
 *   empty (a shared secret is never published), so nobody can verify with it;
 * - the introspection endpoint only when INTROSPECTION_SECRET enables it;
 * - no `token_endpoint`, `authorization_endpoint` or `revocation_endpoint`:
 *   tokens are issued and revoked by the service's own JSON API (login,
 *   refresh, logout), not by RFC 6749 grants or RFC 7009 requests, so neither
 *   is `token_endpoint_auth_methods_supported` (it describes a token endpoint);
 * - `response_types_supported` (required by RFC 8414) and
 *   `grant_types_supported` (whose default, when omitted, would claim
 *   authorization_code and implicit) are both empty.
 * Endpoints are where the service answers: PUBLIC_URL and the route's path.
 */
function authorizationServerMetadata (config: Config): Static<typeof AuthorizationServerMetadata> {
  const base = config.publicUrl.endsWith('/') ? config.publicUrl : `${config.publicUrl}/`
  const at = (path: string): string => new URL(path, base).href
  return {
    issuer: issuerOf(config),
    ...(config.jwtAlgorithm === 'HS256' ? {} : { jwks_uri: at('.well-known/jwks.json') }),
    ...(config.introspectionSecret === undefined
      ? {}
      : { introspection_endpoint: at('account/token/introspect'), introspection_endpoint_auth_methods_supported: INTROSPECTION_AUTH_METHODS }),
    response_types_supported: [],
    grant_types_supported: []
  }
}

const metadata: FastifyPluginAsyncTypebox = async (app) => {
  const document = authorizationServerMetadata(app.config)
  // Cached as the JWKS is (routes/.well-known/jwks.json/): clients read both
  // together, and a restart that changes either shows within the same time.
  const maxAge = Math.max(1, Math.min(300, Math.floor(app.config.accessTokenLifetime / 2)))
  app.get('', {
    schema: { tags: ['gateway'], response: { 200: AuthorizationServerMetadata } }
  }, async (_request, reply) => {
    void reply.header('cache-control', `public, max-age=${maxAge}`)
    return document
  })
}

export default metadata
