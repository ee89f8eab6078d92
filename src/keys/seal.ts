import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

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
    seal (plain: string): string {
      if (key === undefined) return plain
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
    },
    /** Throws a one-line Error when the value is sealed and cannot be opened with this key. */
    open (stored: string): string {
      if (!stored.startsWith(PREFIX)) return stored // stored before encryption was configured
      if (key === undefined) throw new Error('signing keys in the database are encrypted: set JWT_KEYS_ENCRYPTION_KEY')
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url')
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
        decipher.setAuthTag(raw.subarray(12, 28))
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
      } catch {
        throw new Error('signing keys in the database cannot be decrypted with JWT_KEYS_ENCRYPTION_KEY (wrong key?)')
      }
    }
  }
}

export type Sealer = ReturnType<typeof createSealer>
