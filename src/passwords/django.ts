import { createHash, pbkdf2, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { verify as argon2Verify } from '@node-rs/argon2'
import { bcryptVerify } from './bcrypt.js'

const pbkdf2Async = promisify(pbkdf2)
const scryptAsync = promisify(scrypt) as (password: string, salt: string, keylen: number, options: { N: number, r: number, p: number, maxmem: number }) => Promise<Buffer>

/*
 * Password hashes imported from Django (`import django`), verified as Django's
 * own hashers do (django/contrib/auth/hashers.py), with node:crypto's and
 * @node-rs/argon2's asynchronous functions (libuv's thread pool) and bcryptjs
 * in a worker thread (./bcrypt.ts): never on the event loop. A user's Django hash is replaced by argon2id
 * at their first successful login (accounts.login re-hashes whatever is not
 * current argon2id).
 */

/** The Django hash formats this service verifies. */
export const DJANGO_ALGORITHMS = ['pbkdf2_sha256', 'pbkdf2_sha1', 'argon2', 'scrypt', 'bcrypt_sha256', 'bcrypt'] as const

/** `pbkdf2_sha256`, `argon2`, … for a Django hash; undefined for anything else (argon2id PHC strings included). */
export function djangoAlgorithm (stored: string): string | undefined {
  const match = /^([a-z0-9_]+)\$/.exec(stored)
  return match?.[1]
}

/** True when `stored` is a Django hash this service can verify. */
export function isSupportedDjangoHash (stored: string): boolean {
  return (DJANGO_ALGORITHMS as readonly string[]).includes(djangoAlgorithm(stored) ?? '')
}

/** Django's constant-time comparison of the base64 digests. */
function sameText (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Upper bounds that keep a hostile or corrupt imported hash from taking the machine. */
const MAX_PBKDF2_ITERATIONS = 10_000_000
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024

/**
 * Verifies `password` against a Django hash. False for a wrong password, an
 * unknown algorithm or a malformed hash (never throws).
 */
export async function verifyDjangoHash (stored: string, password: string): Promise<boolean> {
  try {
    const algorithm = djangoAlgorithm(stored)
    if (algorithm === 'pbkdf2_sha256' || algorithm === 'pbkdf2_sha1') {
      // pbkdf2_sha256$<iterations>$<salt>$<base64 hash>
      const [, iterations, salt, hash] = stored.split('$')
      const n = Number(iterations)
      if (salt === undefined || hash === undefined || !Number.isSafeInteger(n) || n < 1 || n > MAX_PBKDF2_ITERATIONS) return false
      const digest = algorithm === 'pbkdf2_sha256' ? 'sha256' : 'sha1'
      const keylen = Buffer.from(hash, 'base64').length
      if (keylen === 0) return false
      const derived = await pbkdf2Async(password, salt, n, keylen, digest)
      return sameText(derived.toString('base64'), hash)
    }
    if (algorithm === 'argon2') {
      // argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash: argon2-cffi's PHC string after the prefix.
      const phc = stored.slice('argon2'.length)
      if (!/^\$argon2(id|i|d)\$/.test(phc)) return false
      return await argon2Verify(phc, password)
    }
    if (algorithm === 'scrypt') {
      // scrypt$<N>$<salt>$<r>$<p>$<base64 hash> (Django 4.0+), 64-byte key.
      const [, n, salt, r, p, hash] = stored.split('$')
      const N = Number(n)
      const R = Number(r)
      const P = Number(p)
      if (salt === undefined || hash === undefined || ![N, R, P].every((v) => Number.isSafeInteger(v) && v > 0)) return false
      const memory = 128 * N * R * 2
      if (memory > MAX_SCRYPT_MEMORY) return false
      const derived = await scryptAsync(password, salt, 64, { N, r: R, p: P, maxmem: memory })
      return sameText(derived.toString('base64'), hash)
    }
    if (algorithm === 'bcrypt_sha256' || algorithm === 'bcrypt') {
      // bcrypt_sha256$$2b$12$…: bcrypt of the hex SHA-256 of the password (no
      // 72-byte truncation); bcrypt$$2b$12$…: bcrypt of the password itself.
      const hash = stored.slice(algorithm.length + 1)
      const input = algorithm === 'bcrypt_sha256' ? createHash('sha256').update(password).digest('hex') : password
      return await bcryptVerify(input, hash)
    }
    return false
  } catch {
    return false
  }
}
