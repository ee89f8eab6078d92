import type { Config } from '../config.js'

/**
 * The service's issuer identifier (RFC 8414 §2): what
 * GET /.well-known/oauth-authorization-server announces as `issuer`, and the
 * value the tokens' `iss` claim is to carry. The only place it is decided, so
 * that the metadata and the tokens can never disagree: for now the origin of
 * PUBLIC_URL (scheme, host and port, no path and no trailing slash, as
 * issuers are usually written).
 */
export function issuerOf (config: Pick<Config, 'publicUrl'>): string {
  return new URL(config.publicUrl).origin
}
