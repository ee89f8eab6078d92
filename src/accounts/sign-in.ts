import type { Config } from '../config.js'
import type { Store, User } from '../db/store.js'
import { AccountInactiveError, EmailNotVerifiedError } from '../errors.js'
import type { LoginContext } from '../sessions/sessions.js'
import type { TokenPair } from '../tokens/claims.js'
import type { TokenService } from '../tokens/tokens.js'

export interface SignInOptions {
  store: Store
  tokens: Pick<TokenService, 'newLogin'>
  /** allauth's ACCOUNT_EMAIL_VERIFICATION; `none` when omitted. */
  emailVerification?: Config['emailVerification']
  nowMs?: () => number
}

/**
 * What every way of logging in shares, whatever proved the user (a password,
 * a second factor, a passkey, a provider): who may be logged in, and the one
 * place a login is issued.
 */
export function createSignIn ({ store, tokens, emailVerification = 'none', nowMs = Date.now }: SignInOptions) {
  return {
    /** What a user must be to be logged in, once the credentials were checked. */
    assertMayLogIn (user: User): void {
      if (!user.isActive) throw new AccountInactiveError()
      if (emailVerification === 'mandatory' && !user.emailVerified) throw new EmailNotVerifiedError()
    },

    /**
     * last_login (and the re-hashed password, if any) and the new session's
     * first refresh token in one transaction (one commit), so a login refused
     * by the storage leaves no trace.
     */
    async issueLogin (user: User, rehashed?: string, session?: LoginContext): Promise<{ user: User, tokens: TokenPair }> {
      const at = new Date(nowMs())
      const { pair, row } = tokens.newLogin(user, undefined, { session })
      await store.users.recordLogin(user.id, at, rehashed, row)
      return { user: { ...user, lastLogin: at, passwordHash: rehashed ?? user.passwordHash }, tokens: pair }
    }
  }
}

export type SignIn = ReturnType<typeof createSignIn>
