import type { NewRefreshToken, Store, User } from '../db/store.js'
import type { TokenService } from './tokens.js'
import { offlineContext } from '../sessions/sessions.js'

/** One issued login: a line of `tokens issue`'s output. */
export interface IssuedLogin { email: string, userId: string, access: string, refresh: string }

export interface IssueOptions {
  store: Store
  tokens: Pick<TokenService, 'newLogin'>
  /** Addresses to issue for, already normalised; processed in this order. */
  emails: string[]
  /** ACCESS_TOKEN_LIFETIME for these access tokens only; the refresh lifetime is the usual one. */
  accessLifetime?: number
  /** Users looked up and refresh rows written per transaction. */
  batchSize?: number
  /** Each batch's logins, once their refresh rows are stored. */
  onBatch: (logins: IssuedLogin[]) => void | Promise<void>
  onProgress?: (done: number, total: number) => void
}

export interface IssueSummary { issued: number, unknown: number, inactive: number }

/**
 * Fresh logins for existing users without their passwords (load tests: no
 * argon2id per user): for each batch of addresses, one read of the users and
 * one transaction storing the refresh rows, so 10,000 logins cost a few
 * statements. Each login is an ordinary one — a new token family, revocable by
 * logout, "log out everywhere", a password change or deactivation. Unknown
 * and inactive users are skipped and counted.
 */
export async function issueLogins ({ store, tokens, emails, accessLifetime, batchSize = 1000, onBatch, onProgress }: IssueOptions): Promise<IssueSummary> {
  const summary: IssueSummary = { issued: 0, unknown: 0, inactive: 0 }
  for (let start = 0; start < emails.length; start += batchSize) {
    const batch = emails.slice(start, start + batchSize)
    const found = new Map<string, User>((await store.users.byEmails(batch)).map((u) => [u.email, u]))
    const logins: IssuedLogin[] = []
    const rows: NewRefreshToken[] = []
    for (const email of batch) {
      const user = found.get(email)
      if (user === undefined) { summary.unknown++; continue }
      if (!user.isActive) { summary.inactive++; continue }
      const { pair, row } = tokens.newLogin(user, undefined, { accessLifetime, session: offlineContext('cli') })
      logins.push({ email, userId: user.id, access: pair.access, refresh: pair.refresh })
      rows.push(row)
    }
    await store.refreshTokens.insertMany(rows)
    summary.issued += logins.length
    await onBatch(logins)
    onProgress?.(start + batch.length, emails.length)
  }
  return summary
}
