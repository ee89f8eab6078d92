import { createHash, randomBytes } from 'node:crypto'

/*
 * The one-time tokens mailed for a password reset or an email verification:
 * 32 random bytes (base64url) in the link, only their SHA-256 in the store —
 * a copy of the database gives no usable link.
 */

export const newMailToken = (): string => randomBytes(32).toString('base64url')

export const mailTokenKey = (token: string): string => createHash('sha256').update(token).digest('base64url')

/**
 * What a reset token remembers of the password it was issued under: a hash of
 * the password hash (never the hash itself). Any later password change, by
 * any path, changes it, and the token no longer matches.
 */
export const passwordFingerprint = (passwordHash: string): string =>
  createHash('sha256').update('reset\0').update(passwordHash).digest('base64url')

/**
 * What an email-change token remembers of the account it was asked for: a
 * hash of the password hash and the login address of that moment. A password
 * change or reset, or a change of the address by any path, changes it: a
 * link asked for by someone who once knew the password (or held a session)
 * dies with the victim's next password change.
 */
export const emailChangeFingerprint = (passwordHash: string, email: string): string =>
  createHash('sha256').update('email-change\0').update(passwordHash).update('\0').update(email).digest('base64url')

/**
 * `<url>?token=<token>`. `page`: the link opens the service's own client page,
 * which serves both kinds of link at one address; a fragment (`#reset` or
 * `#verify`, never sent to a server) tells it which form to show.
 */
export function tokenLink (url: string, token: string, page?: 'reset' | 'verify'): string {
  const link = new URL(url)
  link.searchParams.set('token', token)
  if (page !== undefined) link.hash = page
  return link.toString()
}
