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
    /**
     * A new account (EMAIL_TAKEN if it exists); the password policy applies as at join.
     * `verified`: its address counts as verified (an operator vouches for it), so it may
     * log in under EMAIL_VERIFICATION=mandatory.
     */
    async create (input: { email: string, password: string, staff?: boolean, verified?: boolean }): Promise<User> {
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
        isStaff: input.staff === true,
        emailVerified: input.verified === true
      })
    },

    /** `limit` users in the order they joined, after the first `offset`, and how many there are in all. */
    async list (limit: number, offset = 0): Promise<{ users: User[], total: number }> {
      return { users: await store.users.list(limit, offset), total: await store.users.count() }
    },

    /** Marks the user's address verified (as following a verification link does); false if it was already. */
    async verify (user: User): Promise<boolean> {
      if (user.emailVerified) return false
      await store.users.setEmail(user.id, user.email, true)
      return true
    },

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
