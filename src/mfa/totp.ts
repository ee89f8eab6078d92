import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/*
 * TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA-1, as every authenticator
 * app does by default: 30-second steps counted from the Unix epoch, 6 digits,
 * and one step of drift accepted either side of the server's clock.
 */

export const STEP_SECONDS = 30
export const DIGITS = 6
/** Steps accepted either side of the current one (clock drift, a code typed as it changed). */
export const WINDOW = 1
/** RFC 4226 §4 asks for at least 128 bits and recommends 160: the size of a SHA-1 key block's usual secret. */
export const SECRET_BYTES = 20

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32 without padding (as otpauth:// URLs carry secrets). */
export function base32Encode (bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

/** RFC 4648 base32, case-insensitive, padding and spaces ignored; undefined for any other character. */
export function base32Decode (text: string): Buffer | undefined {
  const clean = text.replace(/[\s=]/g, '').toUpperCase()
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const char of clean) {
    const index = BASE32.indexOf(char)
    if (index < 0) return undefined
    value = ((value << 5) | index) & 0xffff
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

/** A new random secret (160 bits), base32. */
export function newTotpSecret (): string {
  return base32Encode(randomBytes(SECRET_BYTES))
}

/** The time step of an instant (Unix seconds). */
export const stepAt = (unixSeconds: number): number => Math.floor(unixSeconds / STEP_SECONDS)

/** The HOTP value (RFC 4226 §5.3, dynamic truncation) of `key` at counter `step`, `digits` long with leading zeros. */
export function hotp (key: Uint8Array, step: number, digits = DIGITS): string {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = createHmac('sha1', key).update(counter).digest()
  const offset = mac[mac.length - 1]! & 0x0f
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits
  return binary.toString().padStart(digits, '0')
}

/** The TOTP code of a base32 secret at an instant (Unix seconds). */
export function totpAt (secret: string, unixSeconds: number, digits = DIGITS): string {
  const key = base32Decode(secret)
  if (key === undefined) throw new Error('the TOTP secret is not base32')
  return hotp(key, stepAt(unixSeconds), digits)
}

/**
 * The time step whose code `code` is, among the steps within WINDOW of
 * `unixSeconds`; undefined when none. Every step of the window is compared,
 * each in constant time, so the time taken tells nothing about the code.
 * The caller refuses a step already used (RFC 6238 §5.2).
 */
export function verifyTotp (secret: string, code: string, unixSeconds: number, digits = DIGITS): number | undefined {
  const key = base32Decode(secret)
  if (key === undefined) throw new Error('the TOTP secret is not base32')
  const wellFormed = code.length === digits && /^[0-9]+$/.test(code)
  // Compared as `digits` ASCII bytes whatever was typed (a malformed code
  // still costs the same comparisons, and never throws).
  const given = Buffer.alloc(digits)
  if (wellFormed) given.write(code, 'ascii')
  const now = stepAt(unixSeconds)
  let matched: number | undefined
  for (let step = now - WINDOW; step <= now + WINDOW; step++) {
    // The latest matching step wins (it is the one a replay check must record).
    if (timingSafeEqual(Buffer.from(hotp(key, step, digits)), given) && wellFormed) matched = step
  }
  return matched
}

/** otpauth://totp/<issuer>:<account>?secret=…&issuer=… (Google Authenticator's Key Uri Format), with the defaults spelt out. */
export function otpauthUrl (issuer: string, account: string, secret: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`
  // %20, not URLSearchParams's `+`, for a space: apps read the parameters as URI components.
  return `otpauth://totp/${label}?secret=${secret}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=${DIGITS}&period=${STEP_SECONDS}`
}
