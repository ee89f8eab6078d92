import { randomUUID } from 'node:crypto'
import { normalizeEmail } from './accounts.js'
import type { Store, User } from '../db/store.js'
import type { PasswordHasher } from '../passwords/hash.js'
import { assertPasswordPolicy } from '../passwords/policy.js'

/**
 * What operators do to accounts (the command line, `users …`): plain functions
 * over the store and the hasher, as the routes use them. Deactivating,
 * deleting and setting a password end every login of the user.
 */
export interface UserAdminOptions {
  store: Store
  hasher: PasswordHasher
  nowMs?: () => number
}

export function createUserAdmin ({ store, hasher, nowMs = Date.now }: UserAdminOptions) {
  const seconds = (): number => Math.floor(nowMs() / 1000)

  return {
    /** A new account (EMAIL_TAKEN if it exists); the password policy applies as at join. */
    async create (input: { email: string, password: string, staff?: boolean }): Promise<User> {
      const email = normalizeEmail(input.email)
      assertPasswordPolicy(input.password, { email })
      return await store.users.create({
        id: randomUUID(),
        email,
        passwordHash: await hasher.hash(input.password),
        name: '',
        gender: null,
        dateOfBirth: null,
        phoneNumber: null,
        dateJoined: new Date(nowMs()),
        lastLogin: null,
        isStaff: input.staff === true
      })
    },

    list: async (limit: number, afterEmail?: string): Promise<User[]> => await store.users.list(limit, afterEmail),

    /** Refuses every later login and token of the user; returns how many refresh tokens were revoked. */
    async deactivate (user: User): Promise<number> {
      // Access tokens issued before now stay refused after a reactivation too.
      await store.users.setActive(user.id, false, nowMs())
      return await store.refreshTokens.revokeUser(user.id, seconds())
    },

    async activate (user: User): Promise<void> {
      await store.users.setActive(user.id, true)
    },

    /** The user and (by cascade) every refresh token of theirs. */
    async remove (user: User): Promise<void> {
      await store.users.remove(user.id)
    },

    /** A new password (policy applies); every refresh token of the user is revoked. */
    async setPassword (user: User, password: string): Promise<void> {
      assertPasswordPolicy(password, user)
      const hash = await hasher.hash(password)
      // Every access token issued before this instant is refused from now on.
      const at = nowMs()
      await store.users.setPassword(user.id, hash, Math.floor(at / 1000), undefined, at)
    }
  }
}

export type UserAdmin = ReturnType<typeof createUserAdmin>
