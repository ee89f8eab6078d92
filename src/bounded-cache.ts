/**
 * How long an entry of a full cache is safe from being replaced: the fastest a
 * full cache turns over (see BoundedCache).
 */
export const TURNOVER_MS = 60_000

interface Entry<V> {
  key: string
  value: V
  /** Not returned from this instant on (Infinity: never expires). */
  expiresAtMs: number
  /** A newcomer may take its place in a full cache from this instant on. */
  replaceableAtMs: number
  older: Entry<V> | undefined
  newer: Entry<V> | undefined
}

/**
 * A bounded map of the hot paths (verified access tokens, users by id), whose
 * entries leave first in, first out, and which does not churn when the
 * working set outgrows it.
 *
 * A plain FIFO or LRU cache smaller than the working set of a load test
 * misses on nearly every request and replaces an entry on every miss. Each
 * entry replaced has lived long enough to reach V8's old generation, so the
 * heap fills with garbage that only a full collection frees: the process grew
 * by a hundred megabytes while its caches answered a few percent of lookups.
 * Here a full cache takes a newcomer only in place of its oldest entry, and
 * only once that entry has aged out (`turnoverMs` after it came in, or at its
 * own expiry, whichever is first): a working set that fits is kept whole, one
 * that does not gets the share of hits the cache's size allows, with no more
 * than `max` entries replaced per `turnoverMs`.
 *
 * A hit only looks up: it reorders nothing.
 */
export class BoundedCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  #oldest: Entry<V> | undefined
  #newest: Entry<V> | undefined

  /**
   * @param max entries at most (0: remembers nothing)
   * @param turnoverMs how long an entry is safe from replacement in a full cache
   * @param now the clock, in milliseconds (injectable for tests)
   */
  constructor (readonly max: number, readonly turnoverMs = TURNOVER_MS, readonly now: () => number = Date.now) {}

  get size (): number { return this.#entries.size }

  /** The value, unless absent or expired (an expired entry is dropped). */
  get (key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAtMs !== Infinity && this.now() >= entry.expiresAtMs) {
      this.#unlink(entry)
      return undefined
    }
    return entry.value
  }

  /**
   * Remembers `value` until `expiresAtMs` (never: Infinity), as the newest
   * entry. False when it was not taken: the cache is full and its oldest entry
   * has not aged out yet (or `max` is 0).
   */
  set (key: string, value: V, expiresAtMs = Infinity): boolean {
    const now = this.now()
    const known = this.#entries.get(key)
    if (known !== undefined) this.#unlink(known)
    else if (this.#entries.size >= this.max) {
      const oldest = this.#oldest
      if (oldest === undefined || now < oldest.replaceableAtMs) return false
      this.#unlink(oldest)
    }
    const entry: Entry<V> = { key, value, expiresAtMs, replaceableAtMs: Math.min(expiresAtMs, now + this.turnoverMs), older: this.#newest, newer: undefined }
    if (this.#newest === undefined) this.#oldest = entry
    else this.#newest.newer = entry
    this.#newest = entry
    this.#entries.set(key, entry)
    return true
  }

  delete (key: string): void {
    const entry = this.#entries.get(key)
    if (entry !== undefined) this.#unlink(entry)
  }

  clear (): void {
    this.#entries.clear()
    this.#oldest = undefined
    this.#newest = undefined
  }

  #unlink (entry: Entry<V>): void {
    this.#entries.delete(entry.key)
    if (entry.older === undefined) this.#oldest = entry.newer
    else entry.older.newer = entry.newer
    if (entry.newer === undefined) this.#newest = entry.older
    else entry.newer.older = entry.older
  }
}
