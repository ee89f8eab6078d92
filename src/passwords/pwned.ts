import { createHash } from 'node:crypto'

/*
 * PWNED_PASSWORDS_URL: the k-anonymity range API of Have I Been Pwned's
 * Pwned Passwords (or a mirror answering the same format). Only the first 5
 * hex characters of the password's SHA-1 leave the service; the answer lists
 * the suffixes (the other 35) of every breached password under that prefix,
 * `SUFFIX:COUNT` per line. With `Add-Padding: true` the answer is padded with
 * random suffixes of count 0, so that its size does not tell an observer
 * which prefix was asked: those are not breaches.
 */

/** How long the range API may take before the password is let through. */
export const PWNED_TIMEOUT_MS = 1000

export interface BreachCheckOptions {
  /** The range API's base: the prefix is appended (`<url><5 hex>`). */
  url: string
  timeoutMs?: number
  /**
   * The check could not be made (timeout, network error, an answer other than
   * 200): the password is let through. `reason` never holds the password, its
   * hash or the prefix asked.
   */
  onUnavailable?: (reason: string) => void
}

/** The SHA-1 of `password` (UTF-8) in upper-case hex: its 5-character prefix and 35-character suffix. */
export function sha1Parts (password: string): { prefix: string, suffix: string } {
  const hex = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase()
  return { prefix: hex.slice(0, 5), suffix: hex.slice(5) }
}

/** True when `suffix` appears in a range answer with a count above 0 (padding lines have 0). */
export function inRange (body: string, suffix: string): boolean {
  for (const line of body.split('\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    if (line.slice(0, colon).trim().toUpperCase() === suffix) return Number(line.slice(colon + 1).trim()) > 0
  }
  return false
}

/**
 * `breached(password)`: true when the password appears in the range API's
 * answer with a count above 0; false when it does not, or when the API could
 * not be asked in time (fail open: an outage of a third party must not stop
 * joins and password changes).
 */
export function createBreachCheck ({ url, timeoutMs = PWNED_TIMEOUT_MS, onUnavailable }: BreachCheckOptions) {
  return async function breached (password: string): Promise<boolean> {
    const { prefix, suffix } = sha1Parts(password)
    try {
      const res = await fetch(`${url}${prefix}`, {
        headers: { 'Add-Padding': 'true', Accept: 'text/plain' },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error'
      })
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {})
        onUnavailable?.(`answered ${res.status}`)
        return false
      }
      return inRange(await res.text(), suffix)
    } catch (err) {
      const name = (err as { name?: string }).name
      onUnavailable?.(name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `request failed (${name ?? 'error'}: ${causeCode(err)})`)
      return false
    }
  }
}

/** The network error's code (ECONNREFUSED, ENOTFOUND…) without its message, which may name the URL asked. */
function causeCode (err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } }).cause
  return typeof cause?.code === 'string' ? cause.code : 'unknown'
}

export type BreachCheck = ReturnType<typeof createBreachCheck>
