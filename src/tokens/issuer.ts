import type { Config } from '../config.js'

/**
 * Who issues this service's tokens: JWT_ISSUER when it is set, else the origin
 * of PUBLIC_URL (the `iss` a gateway or an OAuth client expects to see).
 */
export function issuerOf (config: Pick<Config, 'jwtIssuer' | 'publicUrl'>): string {
  return config.jwtIssuer ?? new URL(config.publicUrl).origin
}
