import { Algorithm, hash, verify } from '@node-rs/argon2'

export interface Argon2Params { memoryCost: number, timeCost: number, parallelism: number }

/**
 * argon2id through @node-rs/argon2, whose hash and verify run on libuv's
 * thread pool: the event loop keeps serving requests while a hash is computed.
 * The result is a PHC string carrying its own parameters, so they can be
 * raised later and old hashes upgraded at the next successful login.
 */
export function createPasswordHasher (params: Argon2Params) {
  const options = { algorithm: Algorithm.Argon2id, ...params }
  // A real hash of a random string, verified against when the email is unknown,
  // so a login for a missing account costs the same as one for a real account.
  let decoy: Promise<string> | undefined

  return {
    hash: (password: string): Promise<string> => hash(password, options),

    verify: async (stored: string, password: string): Promise<boolean> => {
      try {
        return await verify(stored, password)
      } catch {
        return false // a corrupt stored hash never logs anybody in
      }
    },

    /** Spends one verification's worth of time and always fails. */
    verifyDecoy: async (password: string): Promise<false> => {
      decoy ??= hash(`decoy:${Math.random()}`, options)
      await verify(await decoy, password).catch(() => false)
      return false
    },

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
