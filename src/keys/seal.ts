import { createHash } from 'node:crypto'
import { aeadOpen, aeadSeal } from '../crypto/aead.js'

const PREFIX = 'sealed:v1:'

/**
 * Private key material at rest: AES-256-GCM under a key derived from
 * JWT_KEYS_ENCRYPTION_KEY, when it is set. A copy of the database alone (a
 * backup, a dump) then holds no usable signing key. Without it, values are
 * stored as they are and the database file's permissions (0600) protect them.
 */
export function createSealer (encryptionKey: string | undefined) {
  const key = encryptionKey === undefined ? undefined : createHash('sha256').update(encryptionKey).digest()
  return {
    /** Whether a stored value is sealed (else it was stored in clear, before an encryption key was configured). */
    isSealed: (stored: string): boolean => stored.startsWith(PREFIX),
    seal (plain: string): string {
      if (key === undefined) return plain
      return PREFIX + aeadSeal(key, plain)
    },
    /** Throws a one-line Error when the value is sealed and cannot be opened with this key. */
    open (stored: string): string {
      if (!stored.startsWith(PREFIX)) return stored // stored before encryption was configured
      if (key === undefined) throw new Error('signing keys in the database are encrypted: set JWT_KEYS_ENCRYPTION_KEY')
      const plain = aeadOpen(key, stored.slice(PREFIX.length))
      if (plain === undefined) throw new Error('signing keys in the database cannot be decrypted with JWT_KEYS_ENCRYPTION_KEY (wrong key?)')
      return plain
    }
  }
}

export type Sealer = ReturnType<typeof createSealer>
