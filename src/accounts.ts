import { randomUUID } from 'node:crypto'
import type { Store, User } from './db/store.js'
import {
  AccountInactiveError, EmailTakenError, FieldValidationError, InvalidCredentialsError,
  InvalidPasswordError, WeakPasswordError
} from './errors.js'
import type { PasswordHasher } from './passwords/hash.js'
import { passwordProblem } from './passwords/policy.js'
import type { TokenPair, TokenService } from './tokens.js'

export interface JoinInput {
  email: string
  password: string
  name?: string
  gender?: 'male' | 'female' | null
  date_of_birth?: string | null
  phone_number?: string | null
}

/** The user as the API shows it: never the password hash, never internal flags. */
export function publicUser (user: User) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    gender: user.gender ?? null,
    date_of_birth: user.dateOfBirth ?? null,
    phone_number: user.phoneNumber ?? null,
    date_joined: user.dateJoined.toISOString(),
    last_login: user.lastLogin?.toISOString() ?? null
  }
}

export type PublicUser = ReturnType<typeof publicUser>

export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

export interface AccountServiceOptions {
  store: Store
  hasher: PasswordHasher
  tokens: TokenService
  now?: () => number
}

export function createAccountService ({ store, hasher, tokens, now = Date.now }: AccountServiceOptions) {
  function checkPassword (password: string, user: { email: string, name?: string }): void {
    const problem = passwordProblem(password, user)
    if (problem !== null) throw new WeakPasswordError(problem)
  }

  return {
    async join (input: JoinInput): Promise<{ user: User, tokens: TokenPair }> {
      const email = normalizeEmail(input.email)
      const dob = input.date_of_birth ?? null
      // The schema checks the format (a real calendar date); "in the past" needs a clock.
      if (dob !== null && dob >= new Date(now()).toISOString().slice(0, 10)) {
        throw new FieldValidationError([{ field: 'date_of_birth', message: 'must be a date in the past' }])
      }
      checkPassword(input.password, { email, name: input.name })
      // Cheap early answer; the unique index still decides races.
      if (await store.users.byEmail(email) !== undefined) throw new EmailTakenError()
      const user = {
        id: randomUUID(),
        email,
        passwordHash: await hasher.hash(input.password),
        name: input.name ?? '',
        gender: input.gender ?? null,
        dateOfBirth: dob,
        phoneNumber: input.phone_number ?? null,
        dateJoined: new Date(now()),
        // Joining logs the user in (tokens are issued), as dj-rest-auth's register does.
        lastLogin: new Date(now())
      }
      // The user and its first refresh token are written in one transaction:
      // a join that fails (disk full, I/O error) can simply be repeated.
      const first = tokens.newLogin(user)
      return { user: await store.users.create(user, first.row), tokens: first.pair }
    },

    /**
     * Unknown email and wrong password give the same error after the same work
     * (one argon2 verification). Inactivity is only revealed to whoever knows
     * the password, as Django does.
     */
    async login (emailInput: string, password: string): Promise<{ user: User, tokens: TokenPair }> {
      const found = await store.users.byEmail(normalizeEmail(emailInput))
      if (found === undefined) {
        await hasher.verifyDecoy(password)
        throw new InvalidCredentialsError()
      }
      if (!await hasher.verify(found.passwordHash, password)) throw new InvalidCredentialsError()
      if (!found.isActive) throw new AccountInactiveError()
      const at = new Date(now())
      const rehashed = hasher.needsRehash(found.passwordHash) ? await hasher.hash(password) : undefined
      // last_login and the new refresh token: one transaction (one commit), so
      // a login refused by the storage leaves no trace.
      const { pair, row } = tokens.newLogin(found)
      await store.users.recordLogin(found.id, at, rehashed, row)
      return { user: { ...found, lastLogin: at, passwordHash: rehashed ?? found.passwordHash }, tokens: pair }
    },

    async changePassword (user: User, oldPassword: string, newPassword: string): Promise<TokenPair> {
      if (!await hasher.verify(user.passwordHash, oldPassword)) throw new InvalidPasswordError()
      checkPassword(newPassword, user)
      return await tokens.reissueAfterPasswordChange(user, await hasher.hash(newPassword))
    }
  }
}

export type AccountService = ReturnType<typeof createAccountService>
