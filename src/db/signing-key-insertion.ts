/**
 * Whether Store.signingKeys.add stores a new key, from what the store found
 * in its transaction: never over a key with the same kid, and with
 * `onlyIfNone` (instances starting at once, each ready to make the first key)
 * not while some key signs already, so that one key wins. When it stores the
 * key, the key that signed retires at the new one's creation: exactly one key
 * signs. Both stores apply it.
 */
export function keyInsertion (key: { createdAt: number }, found: { kidTaken: boolean, someKeySigns: boolean }, onlyIfNone: boolean):
  { add: false } | { add: true, retireSigningAt: number } {
  if (found.kidTaken || (onlyIfNone && found.someKeySigns)) return { add: false }
  return { add: true, retireSigningAt: key.createdAt }
}
