import type { Config } from '../config.js'

/**
 * The service's issuer identifier (RFC 8414 §2): what
 * GET /.well-known/oauth-authorization-server announces as `issuer`, and the
 * `iss` of access tokens when JWT_ISSUER is set. The only place it is decided,
 * so that the metadata and the tokens never disagree: JWT_ISSUER when it is
 * set, else the origin of PUBLIC_URL (scheme, host and port, no path and no
 * trailing slash, as issuers are usually written).
 */
export function issuerOf (config: Pick<Config, 'jwtIssuer' | 'publicUrl'>): string {
  return config.jwtIssuer ?? new URL(config.publicUrl).origin
}
