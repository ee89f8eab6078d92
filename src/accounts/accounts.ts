import { randomUUID } from 'node:crypto'
import { emailChangeFingerprint, mailTokenKey, newMailToken, passwordFingerprint, tokenLink } from './account-tokens.js'
import type { Config } from '../config.js'
import type { AccountToken, AccountTokenPurpose, ProfileChange, Store, User } from '../db/store.js'
import {
  AccountInactiveError, EmailTakenError, FieldValidationError, InvalidCredentialsError,
  InvalidPasswordError, MfaRequiredError, MfaTokenInvalidError, PasswordIncorrectError, ResetTokenInvalidError, VerificationTokenInvalidError, WeakPasswordError
} from '../errors.js'
import type { Mailer } from '../mail/mailer.js'
import { createSignIn } from './sign-in.js'
import { createSocialAccounts } from './social-accounts.js'
import { renderMail, renderNotice, type MailLanguage, type MailTemplate, type NoticeTemplate } from '../mail/templates.js'
import type { MfaProof, MfaService } from '../mfa/mfa.js'
import { hasUsablePassword } from '../passkeys/passkeys.js'
import type { PasswordHasher } from '../passwords/hash.js'
import { assertPasswordPolicy } from '../passwords/policy.js'
import type { TokenPair } from '../tokens/claims.js'
import type { TokenService } from '../tokens/tokens.js'
import type { LoginContext } from '../sessions/sessions.js'

export interface JoinInput {
  email: string
  password: string
  name?: string
  gender?: 'male' | 'female' | null
  date_of_birth?: string | null
  phone_number?: string | null
}

/**
 * Shown users, by the stored row they were made from. A row the store
 * remembers (the SQLite user cache) is frozen and served to every request of
 * that user until it changes: it is shown once, not once per request.
 */
const shown = new WeakMap<User, PublicUser>()

/** The user as the API shows it: never the password hash, never internal flags. */
export function publicUser (user: User): PublicUser {
  let view = shown.get(user)
  if (view === undefined) {
    view = show(user)
    if (Object.isFrozen(user)) shown.set(user, Object.freeze(view))
  }
  return view
}

function show (user: User) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    gender: user.gender ?? null,
    date_of_birth: user.dateOfBirth ?? null,
    phone_number: user.phoneNumber ?? null,
    date_joined: user.dateJoined.toISOString(),
    last_login: user.lastLogin?.toISOString() ?? null,
    email_verified: user.emailVerified
  }
}

export type PublicUser = ReturnType<typeof show>

/** WEAK_PASSWORD's detail for a password the breach check found (PWNED_PASSWORDS_URL). */
export const BREACHED_PASSWORD = 'This password has appeared in a data breach and cannot be used. Choose another one.'

export const normalizeEmail = (email: string): string => email.trim().toLowerCase()

/** Shaped like an address (one @, a dot in the domain, no space): the operators' and the Django import's check. */
export const isEmailAddress = (email: string): boolean => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)

export interface ProfileInput {
  name?: string
  gender?: 'male' | 'female' | null
  date_of_birth?: string | null
  phone_number?: string | null
}

/** How the account mails (reset, verification) are built and sent. */
export interface AccountMailOptions {
  mailer: Mailer
  language: MailLanguage
  passwordResetUrl: string
  emailVerifyUrl: string
  /** The service's own client page (PUBLIC_URL): links to it say which form to open. */
  clientPageUrl?: string
  /** Seconds. */
  passwordResetLifetime: number
  /** Seconds. */
  emailVerificationLifetime: number
}

export interface AccountServiceOptions {
  store: Store
  hasher: PasswordHasher
  tokens: TokenService
  /**
   * PWNED_PASSWORDS_URL: true for a password found in a data breach
   * (src/passwords/pwned.ts), refused at join, password change and reset.
   */
  breached?: (password: string) => Promise<boolean>
  /** allauth's ACCOUNT_EMAIL_VERIFICATION; `none` when omitted. */
  emailVerification?: Config['emailVerification']
  /** Needed by the flows that send mail (reset, verification, email change). */
  mail?: AccountMailOptions
  /** The second factor (src/mfa/): without it no login asks for one. */
  mfa?: MfaService
  /** SOCIAL_MFA: a social sign-in of a user with TOTP on asks for the code too (default true). */
  socialMfa?: boolean
  nowMs?: () => number
}

export function createAccountService ({ store, hasher, tokens, breached, emailVerification = 'none', mail, mfa, socialMfa = true, nowMs = Date.now }: AccountServiceOptions) {
  const seconds = (): number => Math.floor(nowMs() / 1000)

  /** The password policy, then (PWNED_PASSWORDS_URL) the breach check: a new password's rules. */
  async function assertNewPassword (password: string, context: { email?: string, name?: string }): Promise<void> {
    assertPasswordPolicy(password, context)
    if (breached !== undefined && await breached(password)) throw new WeakPasswordError(BREACHED_PASSWORD)
  }

  function checkDateOfBirth (dob: string | null | undefined): void {
    // The schema checks the format (a real calendar date); "in the past" needs a clock.
    if (dob !== null && dob !== undefined && dob >= new Date(nowMs()).toISOString().slice(0, 10)) {
      throw new FieldValidationError([{ field: 'date_of_birth', message: 'must be a date in the past' }])
    }
  }

  function mailOptions (): AccountMailOptions {
    if (mail === undefined) throw new Error('the account service was created without mail options')
    return mail
  }

  /** Stores a one-time token for `user` and queues the mail carrying it to `to` (the template of the same name as the purpose). */
  async function mailToken (user: User, purpose: AccountTokenPurpose, to: string): Promise<void> {
    const template: MailTemplate = purpose
    const m = mailOptions()
    const token = newMailToken()
    const reset = purpose === 'password_reset'
    const lifetime = reset ? m.passwordResetLifetime : m.emailVerificationLifetime
    await store.accountTokens.create({
      id: mailTokenKey(token),
      userId: user.id,
      purpose,
      email: to,
      // Bound to what the account was when the mail was asked for: a reset to
      // the password, an email change to the password and the address.
      passwordFingerprint: reset
        ? passwordFingerprint(user.passwordHash)
        : purpose === 'email_change' ? emailChangeFingerprint(user.passwordHash, user.email) : null,
      expiresAt: seconds() + lifetime,
      createdAt: seconds()
    })
    const url = reset ? m.passwordResetUrl : m.emailVerifyUrl
    const link = tokenLink(url, token, url === m.clientPageUrl ? (reset ? 'reset' : 'verify') : undefined)
    m.mailer.send({ to, ...renderMail(template, m.language, { link, email: to, lifetime }), about: { template, userId: user.id } })
  }

  /**
   * The requests that answer the same for every address (no user enumeration):
   * the lookup, the token and the mail all happen after the answer, off the
   * request path, and only a user that `wanted` accepts gets a mail.
   */
  function mailUserLater (purpose: AccountTokenPurpose, emailInput: string, wanted: (user: User) => boolean): void {
    const email = normalizeEmail(emailInput)
    mailOptions().mailer.later(purpose, async () => {
      const user = await store.users.byEmail(email)
      if (user === undefined || !wanted(user)) return
      await mailToken(user, purpose, user.email)
    })
  }

  /** A notice (no link) to the account's address until now about a change of it. */
  function notifyEmailChange (template: NoticeTemplate, user: User, newEmail: string): void {
    if (mail === undefined) return
    mail.mailer.send({ to: user.email, ...renderNotice(template, mail.language, { email: user.email, newEmail }), about: { template, userId: user.id } })
  }

  // Who may be logged in, and the one place a login is issued (src/accounts/sign-in.ts).
  const { assertMayLogIn, issueLogin } = createSignIn({ store, tokens, emailVerification, nowMs })

  /**
   * A user whose first factor was proven (a password; a social sign-in with
   * SOCIAL_MFA): with TOTP on, no tokens yet but MFA_REQUIRED and the
   * mfa_token of a login waiting for its code (loginMfa); otherwise the login
   * is issued. Only whoever passed the first factor learns that TOTP is on.
   */
  async function completeLogin (user: User, rehashed?: string, session?: LoginContext): Promise<{ user: User, tokens: TokenPair }> {
    if (mfa !== undefined && await mfa.required(user.id)) throw new MfaRequiredError(await mfa.startChallenge(user, rehashed, session?.method), user.id)
    return await issueLogin(user, rehashed, session)
  }

  /** The current password of `user`, for the changes that put the account itself at stake. */
  async function confirmPassword (user: User, password: string): Promise<void> {
    if (!await hasher.verify(user.passwordHash, password)) throw new PasswordIncorrectError()
  }

  return {
    // Social login (src/accounts/social-accounts.ts): socialSignIn, linkSocial, socialIdentities, unlinkSocial.
    ...createSocialAccounts({
      store,
      assertMayLogIn,
      login: async (user, session) => socialMfa ? await completeLogin(user, undefined, session) : await issueLogin(user, undefined, session),
      emailVerification,
      nowMs,
      sendVerification: (user) => {
        mailOptions().mailer.later('email_verification', async () => { await mailToken(user, 'email_verification', user.email) })
      }
    }),

    /**
     * With EMAIL_VERIFICATION optional or mandatory, a verification mail is
     * sent; with mandatory, no tokens are issued until the address is verified
     * (`tokens` is undefined), as allauth does.
     */
    async join (input: JoinInput, session?: LoginContext): Promise<{ user: User, tokens?: TokenPair }> {
      // Checked first: a service that cannot mail must not create a user it cannot verify.
      const mailer = emailVerification === 'none' ? undefined : mailOptions().mailer
      const email = normalizeEmail(input.email)
      const dob = input.date_of_birth ?? null
      checkDateOfBirth(dob)
      assertPasswordPolicy(input.password, { email, name: input.name })
      // Cheap early answer; the unique index still decides races.
      if (await store.users.byEmail(email) !== undefined) throw new EmailTakenError()
      await assertNewPassword(input.password, { email, name: input.name })
      const user = {
        id: randomUUID(),
        email,
        passwordHash: await hasher.hash(input.password),
        name: input.name ?? '',
        gender: input.gender ?? null,
        dateOfBirth: dob,
        phoneNumber: input.phone_number ?? null,
        dateJoined: new Date(nowMs()),
        // Joining logs the user in (tokens are issued), as dj-rest-auth's register does.
        lastLogin: emailVerification === 'mandatory' ? null : new Date(nowMs())
      }
      const verify = (created: User): void => {
        mailer?.later('email_verification', async () => { await mailToken(created, 'email_verification', created.email) })
      }
      if (emailVerification === 'mandatory') {
        const created = await store.users.create(user)
        verify(created)
        return { user: created }
      }
      // The user and its first refresh token are written in one transaction:
      // a join that fails (disk full, I/O error) can simply be repeated.
      const first = tokens.newLogin(user, undefined, { session })
      const created = await store.users.create(user, first.row)
      verify(created)
      return { user: created, tokens: first.pair }
    },

    /**
     * Unknown email and wrong password give the same error after the same work
     * (one argon2 verification), no sooner than the slowest kind of hash's
     * time (src/passwords/hash.ts: imported Django hashes are slower).
     * Inactivity is only revealed to whoever knows the password, as Django does.
     */
    async login (emailInput: string, password: string, session?: LoginContext): Promise<{ user: User, tokens: TokenPair }> {
      const started = performance.now()
      const found = await store.users.byEmail(normalizeEmail(emailInput))
      if (found === undefined) {
        await hasher.verifyDecoy(password)
        await hasher.answerFailureAfter(started)
        throw new InvalidCredentialsError()
      }
      // No usable password (Django's `!…`, a user who came through a social
      // login): refused as a wrong password, after the work of a real one (the
      // decoy), so neither the answer nor its time tells such an account apart.
      const usable = hasUsablePassword(found.passwordHash)
      if (!usable) await hasher.verifyDecoy(password)
      if (!usable || !await hasher.verify(found.passwordHash, password)) {
        // As long as the slowest kind of hash (an imported PBKDF2 one) takes:
        // the time tells neither that the account exists nor where it came from.
        await hasher.answerFailureAfter(started)
        throw new InvalidCredentialsError()
      }
      assertMayLogIn(found)
      const rehashed = hasher.needsRehash(found.passwordHash) ? await hasher.hash(password) : undefined
      return await completeLogin(found, rehashed, session)
    },

    /**
     * POST /account/login/mfa: the second factor of a login that answered
     * MFA_REQUIRED (a password login, or a social sign-in with SOCIAL_MFA),
     * then the login is issued; its session takes the first factor's method
     * (`signInMethod`), whatever `session` says. The login attempt is void if
     * the password changed since (the re-hash would bring the old one back),
     * or the user may no longer log in.
     */
    async loginMfa (mfaToken: string, proof: MfaProof, session?: LoginContext): Promise<{ user: User, tokens: TokenPair, method: 'totp' | 'recovery_code', signInMethod: string }> {
      if (mfa === undefined) throw new MfaTokenInvalidError()
      const { challenge, method } = await mfa.verifyChallenge(mfaToken, proof)
      const user = await store.users.byId(challenge.userId)
      if (user === undefined || passwordFingerprint(user.passwordHash) !== challenge.passwordFingerprint) throw new MfaTokenInvalidError()
      assertMayLogIn(user)
      const signInMethod = challenge.method
      return { ...await issueLogin(user, challenge.rehashedPassword ?? undefined, session === undefined ? undefined : { ...session, method: signInMethod }), method, signInMethod }
    },

    async changePassword (user: User, oldPassword: string, newPassword: string, session?: LoginContext): Promise<TokenPair> {
      if (!await hasher.verify(user.passwordHash, oldPassword)) throw new InvalidPasswordError()
      await assertNewPassword(newPassword, user)
      return await tokens.reissueAfterPasswordChange(user, await hasher.hash(newPassword), session)
    },

    /** PATCH /account/mypage: only the fields given change, with the rules of join. */
    async updateProfile (user: User, input: ProfileInput): Promise<User> {
      checkDateOfBirth(input.date_of_birth)
      const change: ProfileChange = {}
      if (input.name !== undefined) change.name = input.name
      if (input.gender !== undefined) change.gender = input.gender
      if (input.date_of_birth !== undefined) change.dateOfBirth = input.date_of_birth
      if (input.phone_number !== undefined) change.phoneNumber = input.phone_number
      const updated = await store.users.updateProfile(user.id, change)
      // Deleted between authentication and now: as if its token had failed.
      if (updated === undefined) throw new AccountInactiveError()
      return updated
    },

    /**
     * A new login email, after the current password. With verification off it
     * applies at once (unverified); otherwise it applies only when the link
     * mailed to the new address is followed (`pending`: true).
     */
    async changeEmail (user: User, password: string, newEmailInput: string): Promise<{ user: User, pending: boolean }> {
      await confirmPassword(user, password)
      const email = normalizeEmail(newEmailInput)
      if (email === user.email) return { user, pending: false }
      if (await store.users.byEmail(email) !== undefined) throw new EmailTakenError()
      if (emailVerification === 'none') {
        await store.users.setEmail(user.id, email, false)
        notifyEmailChange('email_changed', user, email)
        return { user: { ...user, email, emailVerified: false }, pending: false }
      }
      mailOptions().mailer.later('email_change', async () => { await mailToken(user, 'email_change', email) })
      // The address until now hears of it (allauth does the same): its owner
      // learns how to cancel a change they did not ask for.
      notifyEmailChange('email_change_requested', user, email)
      return { user, pending: true }
    },

    /**
     * Deletes the account after its password: its refresh and mailed tokens go
     * with it, and its access tokens fail from now on (their user is gone). A
     * later account with the same email is a new user (a new id) and sees
     * nothing of this one.
     */
    async deleteAccount (user: User, password: string): Promise<void> {
      await confirmPassword(user, password)
      await store.users.remove(user.id)
    },

    /**
     * POST /account/password/reset: the same for every address (no user
     * enumeration): the lookup, the token and the mail all happen after the
     * answer, off the request path. Only an active user gets a mail.
     */
    requestPasswordReset (emailInput: string): void {
      mailUserLater('password_reset', emailInput, (user) => user.isActive)
    },

    /**
     * A new password with a mailed token: the token must be unused, unexpired,
     * of an active user, and issued under the current password. Every refresh
     * token of the user is revoked and a new login started. Following the link
     * proves the address, so it also counts as verified.
     */
    async confirmPasswordReset (token: string, newPassword: string, session?: LoginContext): Promise<{ user: User, tokens: TokenPair }> {
      const key = mailTokenKey(token)
      const user = await resetTokenUser(key)
      // The policy before the token is used up: a weak password can be corrected.
      await assertNewPassword(newPassword, user)
      const hash = await hasher.hash(newPassword)
      // One transaction uses the token up, stores the hash, marks the address
      // verified, ends every session and starts the new one: a failure leaves
      // the link usable and the account as it was. The checks run again in it
      // (the password or the address may have changed while hashing), and of
      // concurrent confirmations one wins.
      // The instant of the reset: access tokens issued before it are refused, the new pair is issued at it.
      const at = nowMs()
      const { pair, row } = tokens.newLogin(user, at, { session })
      const updated = await store.accountTokens.resetPassword(key, hash, row, Math.floor(at / 1000), resetTokenFits, at)
      if (updated === undefined) throw new ResetTokenInvalidError()
      return { user: updated, tokens: pair }
    },

    /** POST /account/email/resend: as the reset request, the same answer for every address. */
    requestVerification (emailInput: string): void {
      mailUserLater('email_verification', emailInput, (user) => user.isActive && !user.emailVerified)
    },

    /**
     * POST /account/email/verify: a verification token proves the user's
     * current address (void once the address changed); an email-change token
     * makes its address the login email, verified, if the account still has
     * the password and the address it had when the change was asked for
     * (a password change or reset, or another change of the address, voids it).
     */
    async verifyEmail (token: string): Promise<User> {
      // Used up and applied in one transaction: an address taken meanwhile
      // (EMAIL_TAKEN) or a failure leaves the link usable.
      const user = await store.accountTokens.verifyEmail(mailTokenKey(token), seconds(), (row, owner) =>
        owner.isActive && (row.purpose === 'email_change'
          ? row.passwordFingerprint === emailChangeFingerprint(owner.passwordHash, owner.email)
          : row.email === owner.email))
      if (user === undefined) throw new VerificationTokenInvalidError()
      return user
    }
  }

  async function resetTokenUser (key: string): Promise<User> {
    const row = await store.accountTokens.byId(key)
    if (row === undefined || row.purpose !== 'password_reset' || row.usedAt !== null || row.expiresAt <= seconds()) {
      throw new ResetTokenInvalidError()
    }
    const user = await store.users.byId(row.userId)
    if (user === undefined || !resetTokenFits(row, user)) throw new ResetTokenInvalidError()
    return user
  }
}

/** A reset token is void once its user is deactivated, or the password or the address changed, by any path. */
function resetTokenFits (row: AccountToken, user: User): boolean {
  return user.isActive && row.email === user.email && row.passwordFingerprint === passwordFingerprint(user.passwordHash)
}

export type AccountService = ReturnType<typeof createAccountService>
