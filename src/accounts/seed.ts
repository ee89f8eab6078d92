import { randomUUID } from 'node:crypto'
import type { NewUser, Store } from '../db/store.js'
import type { PasswordHasher } from '../passwords/hash.js'

/** The addresses seeded users get, `{n}` from 1: load-test scripts rely on exactly these. */
export const SEED_PATTERN = 'user{n}@example.test'
export const seedEmail = (n: number): string => SEED_PATTERN.replace('{n}', String(n))

export interface SeedOptions {
  store: Store
  hasher: PasswordHasher
  number: number
  password: string
  /** Users per insert transaction. */
  batchSize?: number
  /**
   * Their addresses count as verified, existing ones included (they can log in
   * under EMAIL_VERIFICATION=mandatory).
   */
  verified?: boolean
  /** Called after each batch with the users handled so far. */
  onProgress?: (done: number, total: number) => void
  nowMs?: () => number
}

/**
 * Users user1@example.test … userN@example.test sharing one password: the
 * password is hashed ONCE (argon2id, the service's parameters) and that hash
 * reused, and users are inserted in batches, each in one transaction. Existing
 * addresses are left as they are (a re-run only adds what is missing), except
 * that `verified` marks them verified too. User n joins 1 ms after user n-1, so
 * that the users' order (`users list`: by date joined) is their numbers' order.
 */
export async function seedUsers ({ store, hasher, number, password, verified = false, batchSize = 2000, onProgress, nowMs = Date.now }: SeedOptions): Promise<{ created: number, existing: number }> {
  const passwordHash = await hasher.hash(password)
  const now = nowMs()
  let created = 0
  for (let start = 1; start <= number; start += batchSize) {
    const batch: NewUser[] = []
    for (let n = start; n < start + batchSize && n <= number; n++) {
      batch.push({ id: randomUUID(), email: seedEmail(n), passwordHash, name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(now - (number - n)), lastLogin: null, emailVerified: verified })
    }
    const inserted = await store.users.insertMany(batch)
    created += inserted
    if (verified && inserted < batch.length) await store.users.verifyEmails(batch.map((u) => u.email))
    onProgress?.(start - 1 + batch.length, number)
  }
  return { created, existing: number - created }
}
