import { createCipheriv, createDecipheriv } from 'node:crypto'
import { pooledRandomBytes } from './random.js'

/*
 * AES-256-GCM as the service stores sealed values (signing keys at rest,
 * src/keys/seal.ts; grace-window successors, src/tokens/refresh-grace.ts):
 * `base64url(iv ‖ tag ‖ ciphertext)`, a fresh random 96-bit IV per value, the
 * 128-bit tag, optional additional data bound to the value.
 */

const IV_BYTES = 12
const TAG_BYTES = 16

/** `plain` sealed under the 32-byte `key`, bound to `aad` when given. */
export function aeadSeal (key: Buffer, plain: string, aad?: Buffer): string {
  const iv = pooledRandomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  if (aad !== undefined) cipher.setAAD(aad)
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
}

/** The plain text, or undefined when `sealed` was not sealed under this key and `aad` (or is no sealed value). */
export function aeadOpen (key: Buffer, sealed: string, aad?: Buffer): string | undefined {
  const raw = Buffer.from(sealed, 'base64url')
  if (raw.length <= IV_BYTES + TAG_BYTES) return undefined
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES))
    if (aad !== undefined) decipher.setAAD(aad)
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
  } catch {
    return undefined
  }
}
