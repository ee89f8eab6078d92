import { createHash, randomBytes } from 'node:crypto'
import QRCode from 'qrcode'
import { passwordFingerprint } from '../accounts/account-tokens.js'
import type { MfaChallenge, Store, User } from '../db/store.js'
import {
  MfaAlreadyEnabledError, MfaCodeInvalidError, MfaLoginCodeInvalidError, MfaNotEnabledError, MfaSetupRequiredError,
  MfaTokenInvalidError, PasswordIncorrectError
} from '../errors.js'
import type { Sealer } from '../keys/seal.js'
import type { PasswordHasher } from '../passwords/hash.js'
import { base32Encode, newTotpSecret, otpauthUrl, verifyTotp } from './totp.js'

/** Seconds an mfa_token lives (the issue: 5 minutes). */
export const MFA_CHALLENGE_LIFETIME = 300
/** Wrong codes an mfa_token survives: the 5th ends it. */
export const MFA_MAX_FAILURES = 5
export const RECOVERY_CODE_COUNT = 10

/** A TOTP code as typed: apps show it as `123 456`. */
const typedCode = (code: string): string => code.replace(/\s/g, '')

/** A code typed by a person: case, spaces and dashes do not matter. */
export const normalizeRecoveryCode = (code: string): string => code.replace(/[\s-]/g, '').toLowerCase()

/**
 * A plain SHA-256, not a password hash: a recovery code is 50 random bits
 * (10 base32 characters), not a human choice, so no dictionary shortens a
 * search of its space, and each wrong guess costs an online attempt behind the
 * mfa_token's and the per-user limits. A slow hash would only slow the logins.
 */
export const recoveryCodeHash = (code: string): string => createHash('sha256').update(normalizeRecoveryCode(code)).digest('base64url')

/** `xxxxx-xxxxx`: 10 base32 characters (50 bits), lower case, grouped to be copied by hand. */
export function newRecoveryCode (): string {
  const chars = base32Encode(randomBytes(7)).slice(0, 10).toLowerCase()
  return `${chars.slice(0, 5)}-${chars.slice(5)}`
}

const newRecoveryCodes = (): string[] => Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)

/** The key of an mfa_token in the store: its SHA-256 (the token itself is never stored). */
export const mfaTokenKey = (token: string): string => createHash('sha256').update(token).digest('base64url')

/** What answers POST /account/login/mfa: a TOTP code, or a recovery code. */
export type MfaProof = { code: string } | { recoveryCode: string }

export interface MfaServiceOptions {
  store: Store
  hasher: PasswordHasher
  /** Seals TOTP secrets at rest (JWT_KEYS_ENCRYPTION_KEY), as the signing keys are. */
  sealer: Sealer
  /** MFA_ISSUER: the name authenticator apps show beside the account. */
  issuer: string
  nowMs?: () => number
}

export function createMfaService ({ store, hasher, sealer, issuer, nowMs = Date.now }: MfaServiceOptions) {
  const seconds = (): number => Math.floor(nowMs() / 1000)

  async function confirmPassword (user: User, password: string): Promise<void> {
    if (!await hasher.verify(user.passwordHash, password)) throw new PasswordIncorrectError()
  }

  async function enabledSecret (userId: string): Promise<string | undefined> {
    const row = await store.mfa.totp(userId)
    return row === undefined || row.enabledAt === null ? undefined : sealer.open(row.secret)
  }

  return {
    /** POST /account/mfa/totp/setup: a new secret, pending until confirmed (a pending one is replaced). */
    async setup (user: User): Promise<{ secret: string, otpauthUrl: string, qrSvg: string }> {
      const secret = newTotpSecret()
      if (!await store.mfa.beginTotp(user.id, sealer.seal(secret), seconds())) throw new MfaAlreadyEnabledError()
      const url = otpauthUrl(issuer, user.email, secret)
      return { secret, otpauthUrl: url, qrSvg: await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }) }
    },

    /**
     * POST /account/mfa/totp/confirm: the pending secret's current code turns
     * TOTP on; the recovery codes are returned this once (stored hashed).
     * The code's step counts as used: it cannot log in afterwards.
     */
    async confirm (user: User, code: string): Promise<string[]> {
      const row = await store.mfa.totp(user.id)
      if (row?.enabledAt != null) throw new MfaAlreadyEnabledError()
      if (row === undefined) throw new MfaSetupRequiredError()
      const step = verifyTotp(sealer.open(row.secret), typedCode(code), seconds())
      if (step === undefined) throw new MfaCodeInvalidError()
      const codes = newRecoveryCodes()
      // Refused when the pending secret changed meanwhile (another setup) or a concurrent confirmation won.
      if (!await store.mfa.enableTotp(user.id, row.secret, step, codes.map(recoveryCodeHash), seconds())) throw new MfaSetupRequiredError()
      return codes
    },

    /** GET /account/mfa. `created_at`: when TOTP was turned on. */
    async status (user: User): Promise<{ totp: { enabled: boolean, created_at: string | null }, recovery_codes_left: number }> {
      const row = await store.mfa.totp(user.id)
      const enabledAt = row?.enabledAt ?? null
      return {
        totp: { enabled: enabledAt !== null, created_at: enabledAt === null ? null : new Date(enabledAt * 1000).toISOString() },
        recovery_codes_left: enabledAt === null ? 0 : await store.mfa.recoveryCodesLeft(user.id)
      }
    },

    /** POST /account/mfa/recovery-codes: after the password, 10 new codes; the old ones die. */
    async regenerateRecoveryCodes (user: User, password: string): Promise<string[]> {
      await confirmPassword(user, password)
      const codes = newRecoveryCodes()
      if (!await store.mfa.replaceRecoveryCodes(user.id, codes.map(recoveryCodeHash), seconds())) throw new MfaNotEnabledError()
      return codes
    },

    /** DELETE /account/mfa/totp: after the password, TOTP off (a pending setup too); true when it was on. */
    async disable (user: User, password: string): Promise<boolean> {
      await confirmPassword(user, password)
      return await store.mfa.disable(user.id)
    },

    /** Whether a login of this user needs the second factor. */
    async required (userId: string): Promise<boolean> {
      const row = await store.mfa.totp(userId)
      return row !== undefined && row.enabledAt !== null
    },

    /**
     * A login of `user` waiting for its second factor: the mfa_token to hand
     * out. `rehashed`: the login's re-hash of the password, applied when it
     * finishes. `method`: how the first factor was given (`password`,
     * `social:<name>`), which the session started by the code records.
     */
    async startChallenge (user: User, rehashed: string | undefined, method = 'password'): Promise<string> {
      const token = randomBytes(32).toString('base64url')
      const now = seconds()
      await store.mfa.createChallenge({
        id: mfaTokenKey(token),
        userId: user.id,
        passwordFingerprint: passwordFingerprint(user.passwordHash),
        rehashedPassword: rehashed ?? null,
        method,
        expiresAt: now + MFA_CHALLENGE_LIFETIME,
        createdAt: now
      })
      return token
    },

    /** The user an mfa_token is for while it is usable (the per-user limit of POST /account/login/mfa), else undefined. */
    async challengeUser (token: string): Promise<string | undefined> {
      return (await store.mfa.challenge(mfaTokenKey(token), seconds(), MFA_MAX_FAILURES))?.userId
    },

    /**
     * The second factor of the login `token`: a TOTP code of a step not used
     * before, or an unused recovery code (used up). Then the challenge is used
     * up and returned, with how it was passed. A wrong code counts against
     * the token (the 5th ends it) and throws MFA_CODE_INVALID (with the user,
     * for the audit line); an unusable token throws MFA_TOKEN_INVALID.
     */
    async verifyChallenge (token: string, proof: MfaProof): Promise<{ challenge: MfaChallenge, method: 'totp' | 'recovery_code' }> {
      const key = mfaTokenKey(token)
      const challenge = await store.mfa.challenge(key, seconds(), MFA_MAX_FAILURES)
      if (challenge === undefined) throw new MfaTokenInvalidError()
      const userId = challenge.userId
      let passed: boolean
      if ('code' in proof) {
        const secret = await enabledSecret(userId)
        // TOTP turned off since the password was given (mfa-reset): the login starts again.
        if (secret === undefined) throw new MfaTokenInvalidError()
        const step = verifyTotp(secret, typedCode(proof.code), seconds())
        passed = step !== undefined && await store.mfa.useStep(userId, step)
      } else {
        passed = await store.mfa.useRecoveryCode(userId, recoveryCodeHash(proof.recoveryCode), seconds())
      }
      if (!passed) {
        await store.mfa.failChallenge(key, MFA_MAX_FAILURES)
        throw Object.assign(new MfaLoginCodeInvalidError(), { userId })
      }
      const used = await store.mfa.consumeChallenge(key, seconds())
      if (used === undefined) throw new MfaTokenInvalidError()
      return { challenge: used, method: 'code' in proof ? 'totp' : 'recovery_code' }
    },

    /** Operators (`users mfa-reset`): TOTP, recovery codes and waiting logins of the user deleted; true when TOTP was on. */
    async reset (userId: string): Promise<boolean> {
      return await store.mfa.disable(userId)
    },

    async purgeChallenges (): Promise<number> {
      return await store.mfa.purgeExpiredChallenges(seconds())
    }
  }
}

export type MfaService = ReturnType<typeof createMfaService>
