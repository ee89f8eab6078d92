import { pooledRandomBytes } from '../crypto/random.js'

/*
 * The instant, to the millisecond, at which an access token was issued,
 * carried by its `jti`: a UUID version 7 (RFC 9562 §5.7), whose first 48 bits
 * are that instant in milliseconds since the epoch and whose other 74 are
 * random. `iat` stays whole seconds (RFC 7519); the claim set stays the
 * contract's. A password change, a reset, "log out everywhere" or a
 * deactivation records the instant of the operation on the user
 * (`tokens_valid_after`) and mints its own pair at that same instant, so that
 * a token issued earlier, even in the same second, is refused while the pair
 * the operation returns works (docs/design.md, "Revocation").
 */

const HEX = '0123456789abcdef'

/** A UUID version 7 for the instant `ms` (milliseconds since the epoch). */
export function uuidV7 (ms: number): string {
  const b = Buffer.from(pooledRandomBytes(16))
  b.writeUIntBE(Math.max(0, Math.floor(ms)), 0, 6)
  b[6] = 0x70 | ((b[6] ?? 0) & 0x0f)
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f)
  let hex = ''
  for (const byte of b) hex += (HEX[byte >> 4] ?? '') + (HEX[byte & 15] ?? '')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const V7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/**
 * When a token was issued, in milliseconds: its jti's instant when that is a
 * UUIDv7 within its `iat` second (the tokens of this service since version 7
 * jtis), else the start of its `iat` second (older tokens: never later than
 * their real issue, so a revocation in their second refuses them too).
 */
export function issuedAtMs (claims: { jti: string, iat: number }): number {
  const m = V7.exec(claims.jti)
  if (m !== null) {
    const ms = Number.parseInt(`${m[1] ?? ''}${m[2] ?? ''}`, 16)
    if (Math.floor(ms / 1000) === claims.iat) return ms
  }
  return claims.iat * 1000
}
