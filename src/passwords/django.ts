import { createHash, pbkdf2, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { loadArgon2 } from './argon2.js'
import { bcryptVerify, MAX_BCRYPT_COST } from './bcrypt.js'

const pbkdf2Async = promisify(pbkdf2)
const scryptAsync = promisify(scrypt) as (password: string, salt: string, keylen: number, options: { N: number, r: number, p: number, maxmem: number }) => Promise<Buffer>

/*
 * Password hashes imported from Django (`import django`), verified as Django's
 * own hashers do (django/contrib/auth/hashers.py), with node:crypto's and
 * @node-rs/argon2's asynchronous functions (libuv's thread pool) and bcryptjs
 * in a worker thread (./bcrypt.ts): never on the event loop. A user's Django hash is replaced by argon2id
 * at their first successful login (accounts.login re-hashes whatever is not
 * current argon2id). Costs beyond the limits below are refused unhashed.
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

/*
 * Cost limits. The costs are read from the imported hash itself, so a hostile or
 * corrupt one (a row edited in the Django database, a forged dumpdata file)
 * could otherwise make one login attempt work for minutes or days, or allocate
 * gigabytes, in libuv's thread pool (4 threads, shared with the rest of the
 * service). A hash beyond any limit is refused before anything is computed:
 * verification is false, as for a wrong password, and `import django` skips its
 * user with the reason (djangoHashBeyondLimits).
 *
 * Each limit accepts every hash Django has made with its default settings, and
 * subclassed hashers with costs raised several times over; the worst hash
 * accepted costs about a second or two of one core (pbkdf2's and bcrypt's
 * limits, the oldest, are a few seconds).
 *
 * - pbkdf2 iterations ≤ 10,000,000: Django's default has risen every release
 *   (10,000 in 1.4, 260,000 in 3.2, 1,000,000 in 5.2); ten times the latter.
 * - bcrypt cost ≤ 16 (./bcrypt.ts): Django's `rounds = 12` in every version.
 * - scrypt (Django 4.0 and later: N = 2^14, r = 8, p = 1, unchanged since):
 *   memory 128·N·r ≤ 128 MiB, 8 times Django's 16 MiB; work N·r·p ≤ 2^21, 16
 *   times Django's 2^17 (about 50 ms of CPU: 2^21 is under a second). The
 *   memory check alone allowed p up to about 16,000, some nine minutes. (B,
 *   128·r·p bytes, stays within 128 MiB too: p ≤ 2^21 / (N·r) and N ≥ 2.)
 * - argon2 (Django 1.10 to 3.1: argon2i, m = 512 KiB, t = 2, p = 2; 3.2 and
 *   later: argon2id, m = 102,400 KiB, t = 2, p = 8, argon2-cffi's defaults
 *   then): memory m ≤ 262,144 KiB (256 MiB, 2.5 times Django's 100 MiB, as
 *   much as the largest scrypt allowed), passes t ≤ 16 (8 times Django's 2; argon2-cffi's RFC 9106
 *   profile uses 3), lanes p ≤ 64 (8 times Django's 8), and work m·t ≤
 *   3,276,800 KiB, 16 times Django's 204,800 (about 0.1 s of CPU: the limit is
 *   one to two seconds).
 */
const MAX_PBKDF2_ITERATIONS = 10_000_000
const MAX_SCRYPT_MEMORY = 128 * 1024 * 1024
const MAX_SCRYPT_WORK = 2 ** 21
const MAX_ARGON2_MEMORY_KIB = 262_144
const MAX_ARGON2_TIME = 16
const MAX_ARGON2_PARALLELISM = 64
const MAX_ARGON2_WORK_KIB = 16 * 102_400 * 2

/** A cost written as Django writes it (decimal digits, no sign, exponent or space); NaN otherwise. */
function cost (text: string | undefined): number {
  return text !== undefined && /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : Number.NaN
}

/** scrypt's memory as OpenSSL counts it against maxmem: V (128·r·(N + 2) bytes) and B (128·r·p). */
const scryptMemory = (N: number, r: number, p: number): number => 128 * r * (N + 2 + p)

/** scrypt$<N>$<salt>$<r>$<p>$<base64 hash>; undefined when malformed. */
function scryptParts (stored: string): { N: number, r: number, p: number, salt: string, hash: string } | undefined {
  const [, n, salt, r, p, hash] = stored.split('$')
  const costs = { N: cost(n), r: cost(r), p: cost(p) }
  if (salt === undefined || hash === undefined || Object.values(costs).some(Number.isNaN)) return undefined
  return { ...costs, salt, hash }
}

/** m, t and p of argon2-cffi's PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`, `v=` absent before argon2-cffi 16); undefined when malformed. */
function argon2Costs (phc: string): { m: number, t: number, p: number } | undefined {
  const match = /^\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+$/.exec(phc)
  if (match === null) return undefined
  const [m, t, p] = [cost(match[1]), cost(match[2]), cost(match[3])]
  return Number.isNaN(m + t + p) ? undefined : { m, t, p }
}

/**
 * Which of the cost limits above a Django hash exceeds (e.g. `scrypt N·r·p
 * 131072000 > 2097152`), or undefined when it exceeds none. Malformed hashes
 * are undefined here: verifyDjangoHash refuses them for that.
 */
export function djangoHashBeyondLimits (stored: string): string | undefined {
  const algorithm = djangoAlgorithm(stored)
  const over = (name: string, value: number, limit: number): string | undefined =>
    value > limit ? `${algorithm ?? ''} ${name} ${value} > ${limit}` : undefined
  if (algorithm === 'pbkdf2_sha256' || algorithm === 'pbkdf2_sha1') {
    const iterations = cost(stored.split('$')[1])
    return Number.isNaN(iterations) ? undefined : over('iterations', iterations, MAX_PBKDF2_ITERATIONS)
  }
  if (algorithm === 'scrypt') {
    const parts = scryptParts(stored)
    if (parts === undefined) return undefined
    const { N, r, p } = parts
    return over('memory 128·N·r', 128 * N * r, MAX_SCRYPT_MEMORY) ?? over('N·r·p', N * r * p, MAX_SCRYPT_WORK)
  }
  if (algorithm === 'argon2') {
    const costs = argon2Costs(stored.slice('argon2'.length))
    if (costs === undefined) return undefined
    const { m, t, p } = costs
    return over('m', m, MAX_ARGON2_MEMORY_KIB) ?? over('t', t, MAX_ARGON2_TIME) ?? over('p', p, MAX_ARGON2_PARALLELISM) ??
      over('m·t', m * t, MAX_ARGON2_WORK_KIB)
  }
  if (algorithm === 'bcrypt_sha256' || algorithm === 'bcrypt') {
    const rounds = cost(stored.split('$')[3])
    return Number.isNaN(rounds) ? undefined : over('cost', rounds, MAX_BCRYPT_COST)
  }
  return undefined
}

/**
 * Verifies `password` against a Django hash. False for a wrong password, an
 * unknown algorithm or a malformed hash (never throws).
 */
export async function verifyDjangoHash (stored: string, password: string): Promise<boolean> {
  try {
    const algorithm = djangoAlgorithm(stored)
    if (djangoHashBeyondLimits(stored) !== undefined) return false
    if (algorithm === 'pbkdf2_sha256' || algorithm === 'pbkdf2_sha1') {
      // pbkdf2_sha256$<iterations>$<salt>$<base64 hash>
      const [, iterations, salt, hash] = stored.split('$')
      const n = cost(iterations)
      if (salt === undefined || hash === undefined || Number.isNaN(n)) return false
      const digest = algorithm === 'pbkdf2_sha256' ? 'sha256' : 'sha1'
      const keylen = Buffer.from(hash, 'base64').length
      if (keylen === 0) return false
      const derived = await pbkdf2Async(password, salt, n, keylen, digest)
      return sameText(derived.toString('base64'), hash)
    }
    if (algorithm === 'argon2') {
      // argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash: argon2-cffi's PHC string after the prefix.
      const phc = stored.slice('argon2'.length)
      if (argon2Costs(phc) === undefined) return false
      return await (await loadArgon2()).verify(phc, password)
    }
    if (algorithm === 'scrypt') {
      // scrypt$<N>$<salt>$<r>$<p>$<base64 hash> (Django 4.0+), 64-byte key.
      const parts = scryptParts(stored)
      if (parts === undefined) return false
      const { N, r, p, salt, hash } = parts
      const derived = await scryptAsync(password, salt, 64, { N, r, p, maxmem: scryptMemory(N, r, p) })
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
