import { randomBytes } from 'node:crypto'

/*
 * Random bytes for values made on every request (a refresh's CSRF value, a
 * sealing IV), cut from a pool filled by one randomBytes call: the same
 * CSPRNG, one call into OpenSSL per 4 KiB instead of one per value. Each slice
 * is handed out once; callers copy it (toString, cipher init) before the pool
 * is refilled.
 */
const POOL_BYTES = 4096
let pool = Buffer.alloc(0)
let offset = 0

/** `size` fresh random bytes (at most 4 KiB), a view of the pool: use them before the next call's refill. */
export function pooledRandomBytes (size: number): Buffer {
  if (size > POOL_BYTES) return randomBytes(size)
  if (offset + size > pool.length) {
    pool = randomBytes(POOL_BYTES)
    offset = 0
  }
  const bytes = pool.subarray(offset, offset + size)
  offset += size
  return bytes
}
