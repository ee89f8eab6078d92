import { availableParallelism } from 'node:os'
import { loadArgon2 } from './argon2.js'
import { djangoAlgorithm, verifyDjangoHash } from './django.js'
import { OverloadedError } from '../errors.js'

export interface Argon2Params { memoryCost: number, timeCost: number, parallelism: number }

/**
 * How many argon2 computations may run at once: one core is always left to the
 * event loop, so that a burst of logins (or a credential-stuffing attack) slows
 * logins down rather than every other request. At most 3, so that libuv's
 * default pool of 4 threads keeps one for file and DNS work.
 */
export function defaultHashConcurrency (cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores - 1, 3))
}

/**
 * Runs the given tasks at most `max` at a time, the others waiting in order
 * (FIFO); with `maxWaiting`, a task that would wait behind that many is
 * refused at once (OverloadedError, a 503) instead of queueing without bound.
 */
export function limitConcurrency (max: number, maxWaiting = Infinity) {
  let active = 0
  const waiting: Array<() => void> = []
  const run = async function run<T> (task: () => Promise<T>): Promise<T> {
    if (active < max) active++
    else if (waiting.length >= maxWaiting) throw new OverloadedError()
    else await new Promise<void>((resolve) => waiting.push(resolve))
    try {
      return await task()
    } finally {
      // The slot passes straight to the next waiting task, if any.
      const next = waiting.shift()
      if (next !== undefined) next()
      else active--
    }
  }
  return Object.assign(run, { get waiting (): number { return waiting.length } })
}

/**
 * argon2id through @node-rs/argon2, whose hash and verify run on libuv's
 * thread pool: the event loop keeps serving requests while a hash is computed.
 * The result is a PHC string carrying its own parameters, so they can be
 * raised later and old hashes upgraded at the next successful login.
 */
export function createPasswordHasher (params: Argon2Params, concurrency = defaultHashConcurrency(), maxWaiting = Infinity) {
  const limit = limitConcurrency(concurrency, maxWaiting)
  const hash = async (password: string): Promise<string> => await limit(async () => {
    const { Algorithm, hash } = await loadArgon2()
    return await hash(password, { algorithm: Algorithm.Argon2id, ...params })
  })
  const costs = verificationCosts()
  // A hash imported from Django (pbkdf2_sha256$…, argon2$…) is verified the
  // Django way; needsRehash is true for it, so login replaces it with argon2id.
  // Each verification's own time (not its wait for a slot) is remembered by
  // the kind of hash, for failureFloor.
  const verify = async (stored: string, password: string): Promise<boolean> => await limit(async () => {
    const started = performance.now()
    try {
      return djangoAlgorithm(stored) === undefined ? await (await loadArgon2()).verify(stored, password) : await verifyDjangoHash(stored, password)
    } finally {
      costs.record(hashKind(stored), performance.now() - started)
    }
  })
  // A real hash of a random string, verified against when the email is unknown,
  // so a login for a missing account costs the same as one for a real account.
  let decoy: Promise<string> | undefined

  return {
    /** Hashes waiting for a free slot (the metrics' argon2 queue length). */
    get queueLength (): number { return limit.waiting },

    hash: (password: string): Promise<string> => hash(password),

    verify: async (stored: string, password: string): Promise<boolean> => {
      try {
        return await verify(stored, password)
      } catch (err) {
        // Overloaded: the same 503 as for an unknown email (verifyDecoy), never a wrong answer.
        if (err instanceof OverloadedError) throw err
        return false // a corrupt stored hash never logs anybody in
      }
    },

    /** Spends one verification's worth of time and always fails. */
    verifyDecoy: async (password: string): Promise<false> => {
      decoy ??= hash(`decoy:${Math.random()}`)
      const stored = await decoy.catch((err: unknown) => { decoy = undefined; throw err })
      await verify(stored, password).catch((err: unknown) => {
        if (err instanceof OverloadedError) throw err
        return false
      })
      return false
    },

    /**
     * Waits until `floorMs()` has passed since `startedMs` (performance.now()):
     * a failed login is answered no sooner, whatever kind of hash it verified
     * (or none, for an unknown email).
     */
    answerFailureAfter: async (startedMs: number): Promise<void> => {
      const wait = startedMs + costs.floor() - performance.now()
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    },

    /** The time a failed login takes at least: the slowest kind of hash's recent median verification (ms). */
    failureFloor: (): number => costs.floor(),

    /** True when `stored` was made with other (e.g. older, weaker) parameters. */
    needsRehash (stored: string): boolean {
      const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored)
      if (match === null) return true
      return Number(match[1]) !== params.memoryCost ||
        Number(match[2]) !== params.timeCost ||
        Number(match[3]) !== params.parallelism
    }
  }
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>

/**
 * The kind of a stored hash, as far as its cost goes: `argon2id` (this
 * service's), or a Django algorithm with its cost when the hash states one
 * (`pbkdf2_sha256$260000`, `bcrypt`, `scrypt`, `argon2`).
 */
export function hashKind (stored: string): string {
  const algorithm = djangoAlgorithm(stored)
  if (algorithm === undefined) return 'argon2id'
  const iterations = /^pbkdf2_sha(?:256|1)\$(\d{1,9})\$/.exec(stored)?.[1]
  return iterations === undefined ? algorithm : `${algorithm}$${iterations}`
}

/** Samples kept per kind of hash: a median of the recent ones, robust to a busy moment. */
const SAMPLES = 15
/** Kinds remembered at most (a kind is a Django algorithm and its cost: few in one deployment). */
const MAX_KINDS = 32

/**
 * Failed logins must take the same time whether the email is unknown (a
 * decoy argon2id verification), of a native user (argon2id) or of a user
 * imported from Django (PBKDF2 with hundreds of thousands of iterations, far
 * slower): otherwise the time tells which emails have accounts, and which came
 * from Django. Every verification's duration is kept by kind of hash; a
 * failure is answered no sooner than the slowest kind's median (the floor).
 * Without imported users the floor is argon2id's own time, so failures cost
 * what they did; once this process has verified an imported hash, every
 * failure waits as long as one.
 */
function verificationCosts () {
  const byKind = new Map<string, number[]>()
  let floor = 0
  const median = (values: number[]): number => {
    const sorted = [...values].sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)] ?? 0
  }
  return {
    record (kind: string, ms: number): void {
      let samples = byKind.get(kind)
      if (samples === undefined) {
        if (byKind.size >= MAX_KINDS) return
        samples = []
        byKind.set(kind, samples)
      }
      samples.push(ms)
      if (samples.length > SAMPLES) samples.shift()
      floor = Math.max(...[...byKind.values()].map(median))
    },
    floor: (): number => floor
  }
}
