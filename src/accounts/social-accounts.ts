import { randomBytes, randomUUID } from 'node:crypto'
import type { Config } from '../config.js'
import type { SocialIdentity, Store, User } from '../db/store.js'
import {
  AccountInactiveError, SocialAccountInUseError, SocialEmailInUseError, SocialEmailMissingError,
  SocialLastLoginMethodError, SocialNotLinkedError
} from '../errors.js'
import { hasUsablePassword } from '../passkeys/passkeys.js'
import type { LoginContext } from '../sessions/sessions.js'
import type { TokenPair } from '../tokens/claims.js'

/*
 * The accounts side of social login: who a provider's account is here
 * (sign-in, sign-up, automatic and explicit linking) and the login it gets.
 * The provider side (OAuth 2.0, OpenID Connect, verifying what the provider
 * says) is src/social/; what reaches here is a verified SocialProfile.
 */

/** Who signed in, as the provider vouched for it (an ID token's claims, or GitHub's and Naver's user endpoints). */
export interface SocialProfile {
  /** The provider's name in SOCIAL_PROVIDERS. */
  provider: string
  /** The provider's stable id of the account (`sub`). */
  subject: string
  /** Lower-cased; undefined when the provider gave none. */
  email: string | undefined
  /** The provider says the address is verified (`email_verified`, GitHub's verified primary address). */
  emailVerified: boolean
  name: string
}

/**
 * Django's `set_unusable_password`: a hash starting with `!` never verifies
 * (src/passwords/hash.ts finds no algorithm in it), so a password login fails
 * as for a wrong password, and a password reset replaces it.
 */
export const unusablePassword = (): string => `!${randomBytes(30).toString('base64url')}`

export interface SocialSignIn {
  user: User
  tokens: TokenPair
  identity: SocialIdentity
  /** This sign-in created the user. */
  created: boolean
  /** This sign-in linked the identity to an existing account (both addresses verified). */
  linked: boolean
}

export interface SocialAccountOptions {
  store: Store
  /** The account may log in now, as after a password (src/accounts/sign-in.ts). */
  assertMayLogIn: (user: User) => void
  /**
   * Issues the login of a user the provider vouched for, with its session's
   * context: the account service's completeLogin under SOCIAL_MFA (a user
   * with TOTP on gets MFA_REQUIRED instead), else its issueLogin.
   */
  login: (user: User, session: LoginContext) => Promise<{ user: User, tokens: TokenPair }>
  emailVerification: Config['emailVerification']
  /** Queues the verification mail of a user made unverified under mandatory verification. */
  sendVerification: (user: User) => void
  nowMs: () => number
}

export function createSocialAccounts ({ store, assertMayLogIn, login, emailVerification, sendVerification, nowMs }: SocialAccountOptions) {
  const seconds = (): number => Math.floor(nowMs() / 1000)

  /**
   * THE place where a social sign-in becomes a login (`login`: last_login and
   * the new session's first refresh token in one transaction, as the
   * password login; or MFA_REQUIRED under SOCIAL_MFA for a user with TOTP on).
   */
  async function issueSocialLogin (user: User, identity: SocialIdentity, profile: SocialProfile, session: LoginContext): Promise<{ user: User, tokens: TokenPair }> {
    assertMayLogIn(user)
    const result = await login(user, session)
    await store.socialIdentities.recordUse(identity.id, profile.email ?? identity.email, seconds())
    return result
  }

  const newIdentity = (userId: string, profile: SocialProfile) => ({
    id: randomUUID(), userId, provider: profile.provider, subject: profile.subject, email: profile.email ?? '', createdAt: seconds()
  })

  return {
    /**
     * A sign-in through a provider (the browser callback, POST …/token): the
     * user of that provider account; else, for an address nobody has, a new
     * user without a usable password; else the account of that address, linked
     * only when the provider says the address is verified AND the account's
     * address is verified — never an account by an unverified address
     * (SOCIAL_EMAIL_IN_USE: its owner logs in and links it).
     */
    async socialSignIn (profile: SocialProfile, session: LoginContext): Promise<SocialSignIn> {
      const known = await store.socialIdentities.byProviderSubject(profile.provider, profile.subject)
      if (known !== undefined) {
        const user = await store.users.byId(known.userId)
        if (user === undefined) throw new AccountInactiveError()
        return { ...await issueSocialLogin(user, known, profile, session), identity: known, created: false, linked: false }
      }
      if (profile.email === undefined) throw new SocialEmailMissingError()
      const existing = await store.users.byEmail(profile.email)
      if (existing !== undefined) {
        if (!profile.emailVerified || !existing.emailVerified) throw new SocialEmailInUseError()
        // Checked before linking: an inactive account gets no new way in.
        assertMayLogIn(existing)
        const identity = newIdentity(existing.id, profile)
        if (!await store.socialIdentities.link(identity)) throw new SocialAccountInUseError()
        const row = { ...identity, lastUsedAt: null }
        return { ...await issueSocialLogin(existing, row, profile, session), identity: row, created: false, linked: true }
      }
      const user = {
        id: randomUUID(),
        email: profile.email,
        passwordHash: unusablePassword(),
        name: profile.name.slice(0, 150),
        gender: null,
        dateOfBirth: null,
        phoneNumber: null,
        dateJoined: new Date(nowMs()),
        lastLogin: null,
        // Mandatory verification: a provider-verified address counts as verified.
        emailVerified: profile.emailVerified
      }
      const identity = newIdentity(user.id, profile)
      let created: User
      try {
        created = await store.socialIdentities.signUp(user, identity)
      } catch (err) {
        if ((err as { code?: string }).code !== 'EMAIL_TAKEN') throw err
        // A concurrent first sign-in of the same provider account won (a
        // double click): this one signs in to the user it made. Another
        // account of that address won: as for any existing address.
        const winner = await store.socialIdentities.byProviderSubject(profile.provider, profile.subject)
        const user = winner === undefined ? undefined : await store.users.byId(winner.userId)
        if (winner === undefined || user === undefined) throw new SocialEmailInUseError()
        return { ...await issueSocialLogin(user, winner, profile, session), identity: winner, created: false, linked: false }
      }
      if (emailVerification !== 'none' && !created.emailVerified) sendVerification(created)
      const row = { ...identity, lastUsedAt: null }
      return { ...await issueSocialLogin(created, row, profile, session), identity: row, created: true, linked: false }
    },

    /** Explicit linking by a logged-in user (?link=true). Idempotent for an identity already theirs. */
    async linkSocial (user: User, profile: SocialProfile): Promise<SocialIdentity> {
      const known = await store.socialIdentities.byProviderSubject(profile.provider, profile.subject)
      if (known !== undefined) {
        if (known.userId !== user.id) throw new SocialAccountInUseError()
        return known
      }
      const identity = newIdentity(user.id, profile)
      if (!await store.socialIdentities.link(identity)) throw new SocialAccountInUseError()
      return { ...identity, lastUsedAt: null }
    },

    async socialIdentities (user: User): Promise<SocialIdentity[]> {
      return await store.socialIdentities.byUser(user.id)
    },

    /** Refused (409 LAST_LOGIN_METHOD) when the user would have no way left to log in: no usable password, no passkey, no other identity. */
    async unlinkSocial (user: User, provider: string): Promise<void> {
      const outcome = await store.socialIdentities.remove(user.id, provider, (row, left) =>
        left.identities > 0 || left.passkeys > 0 || hasUsablePassword(row.passwordHash))
      if (outcome === 'not_found') throw new SocialNotLinkedError()
      if (outcome === 'last_login_method') throw new SocialLastLoginMethodError()
    }
  }
}
