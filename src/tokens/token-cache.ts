/**
 * Access tokens that passed verification, remembered by their exact text until their
 * `exp`. A client sends the same access token with every request of its
 * lifetime, and checking it again (base64, HMAC-SHA256, JSON, header checks)
 * was about a tenth of an authenticated request's CPU. Only successes are
 * kept, at most `max` of them (the oldest leave first), so a flood of bad
 * tokens costs what it cost before and cannot grow memory.
 *
 * A hit is only the signature and expiry check skipped: every other rule
 * (token type, claims, issued-in-the-future, live user, revocation) is still
 * applied to the remembered payload by the caller, on every request.
 */
export function verifiedTokenCache (max: number, now: () => number = Date.now) {
  const entries = new Map<string, { payload: unknown, expiresAt: number }>()
  return {
    /** The payload verified earlier, unless unknown or now expired. */
    get (token: string): unknown {
      const hit = entries.get(token)
      if (hit === undefined) return undefined
      if (now() >= hit.expiresAt) {
        entries.delete(token)
        return undefined
      }
      return hit.payload
    },
    /** Remembers a payload that has just passed verification (one without a numeric `exp` is not kept). */
    set (token: string, payload: unknown): void {
      const exp = (payload as { exp?: unknown } | null)?.exp
      if (typeof exp !== 'number' || !Number.isFinite(exp)) return
      if (entries.size >= max && !entries.has(token)) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
      entries.set(token, { payload, expiresAt: exp * 1000 })
    },
    /** Forgets everything (a signing key was withdrawn: what it verified must be checked again). */
    clear (): void { entries.clear() },
    get size (): number { return entries.size }
  }
}
