import createError from '@fastify/error'

/*
 * The domain's typed errors. Each carries the contract's `code` and HTTP status;
 * the error-handler plugin turns them (and Fastify's own errors) into the
 * common JSON shape. Nothing else builds an error body.
 */
export const WeakPasswordError = createError('WEAK_PASSWORD', '%s', 400)
export const EmailTakenError = createError('EMAIL_TAKEN', 'A user with this email already exists.', 409)
export const InvalidCredentialsError = createError('INVALID_CREDENTIALS', 'No active account found with the given credentials.', 401)
export const AccountInactiveError = createError('ACCOUNT_INACTIVE', 'This account is inactive.', 403)
export const TokenMissingError = createError('TOKEN_MISSING', 'Authentication credentials were not provided.', 401)
export const TokenInvalidError = createError('TOKEN_INVALID', '%s', 401)
export const TokenExpiredError = createError('TOKEN_EXPIRED', 'Token has expired.', 401)
export const TokenRevokedError = createError('TOKEN_REVOKED', 'Token has been revoked.', 401)
export const InvalidPasswordError = createError('INVALID_PASSWORD', 'Your old password was entered incorrectly.', 400)
export const CsrfFailedError = createError('CSRF_FAILED', 'CSRF check failed: the X-CSRF-Token header must match the csrf_token cookie.', 403)
/**
 * The storage cannot be used right now (locked, full, read-only, unreachable,
 * restarting…): what the stores throw for such a failure (their errors.ts),
 * with the driver's error as `cause`; the shared rate limits too, for Redis.
 */
export const StorageUnavailableError = createError('SERVICE_UNAVAILABLE', 'The service cannot reach its storage; try again shortly.', 503)
/**
 * The driver's code behind a storage failure (`SQLITE_BUSY`, `57P01`,
 * `ECONNREFUSED`…), the first along its causes, for logs and GET /ready;
 * undefined when none has one.
 */
export function driverCode (err: Error): string | undefined {
  for (let e: unknown = err.cause; e !== null && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
  }
  return undefined
}
/**
 * An error as one line for an operator (the command line, a failed start):
 * its message, and for an unavailable storage the driver's own reason too
 * ("database is locked", "connect ECONNREFUSED …"), which says what to fix.
 */
export function oneLine (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err instanceof StorageUnavailableError && err.cause instanceof Error ? err.cause.message : undefined
  return (cause === undefined || cause === '' ? err.message : `${err.message} (${cause})`).split('\n')[0] ?? ''
}

// Answered as SERVICE_UNAVAILABLE; a code of its own because @fastify/error's
// instanceof compares codes (a storage error must not pass for this one).
export const ShuttingDownError = createError('SHUTTING_DOWN', 'The service is shutting down; try again shortly.', 503)

// Answered as SERVICE_UNAVAILABLE with Retry-After: the event loop or the
// password-hash queue is saturated (@fastify/under-pressure, src/passwords/hash.ts).
export const OverloadedError = createError('OVERLOADED', 'The service is overloaded; try again shortly.', 503)
/** GET /ready: the database does not answer (the reason in the message). */
export const NotReadyError = createError('NOT_READY', 'Not ready: %s', 503)
/** POST /account/token/introspect without the right INTROSPECTION_SECRET. */
export const IntrospectionUnauthorizedError = createError('INTROSPECTION_UNAUTHORIZED', 'Introspection requires the introspection secret (Authorization: Bearer or Basic, or client_id and client_secret in the body).', 401)
/** POST /account/token/introspect with client credentials both in the Authorization header and in the body (RFC 6749 §2.3: one method per request). */
export const IntrospectionMultipleCredentialsError = createError('INTROSPECTION_MULTIPLE_CREDENTIALS', 'Client credentials were given both in the Authorization header and in the body; use one method per request.', 400)

/** A field-level validation failure raised by domain rules the JSON schema cannot express. */
export class FieldValidationError extends Error {
  readonly code = 'VALIDATION_ERROR'
  readonly statusCode = 400
  constructor (readonly details: Array<{ field: string, message: string }>) {
    super(details.map((d) => `${d.field}: ${d.message}`).join('; '))
    this.name = 'FieldValidationError'
  }
}
export const RateLimitedError = createError('RATE_LIMITED', 'Too many attempts. Try again in %d seconds.', 429)
// Account lifecycle (profile, email, deletion, password reset, verification).
export const EmailNotVerifiedError = createError('EMAIL_NOT_VERIFIED', 'E-mail is not verified.', 403)
/** A wrong current password where the account itself is at stake (email change, deletion). */
export const PasswordIncorrectError = createError('INVALID_PASSWORD', 'The password is incorrect.', 400)
export const ResetTokenInvalidError = createError('RESET_TOKEN_INVALID', 'The password reset link is invalid, expired or already used.', 400)
export const VerificationTokenInvalidError = createError('VERIFICATION_TOKEN_INVALID', 'The verification link is invalid, expired or already used.', 400)
// Passkeys (src/passkeys/).
/** The WebAuthn RP ID is an IP address (browsers refuse it): the message says what to set. */
export const PasskeysUnavailableError = createError('PASSKEYS_UNAVAILABLE', 'Passkeys are not available: %s.', 501)
/**
 * A sign-in with a passkey that cannot be accepted: unknown credential, a
 * challenge unknown, expired or used already, wrong origin or RP ID, a bad
 * signature, no user verification, a signature counter that went back. One
 * answer for all (the reason is logged, never sent).
 */
export const PasskeyInvalidError = createError('PASSKEY_INVALID', 'The passkey could not be verified.', 401)
/** The same refusals for a registration (the user is signed in: a 400, not a 401). */
export const PasskeyRegistrationInvalidError = createError('PASSKEY_INVALID', 'The new passkey could not be verified.', 400)
export const PasskeyExistsError = createError('PASSKEY_EXISTS', 'This passkey is registered already.', 409)
export const PasskeyNotFoundError = createError('PASSKEY_NOT_FOUND', 'No such passkey.', 404)
/** Removing it would leave the account with no way to log in (no usable password, no other passkey). */
export const LastLoginMethodError = createError('LAST_LOGIN_METHOD', 'This passkey is the last way to log in to this account; set a password or add another passkey first.', 409)
// Sessions (src/sessions/).
/** DELETE /account/sessions/<id> for an id that is not one of the user's live sessions (unknown, ended, or another user's). */
export const SessionNotFoundError = createError('NOT_FOUND', 'No such session.', 404)
// The second factor (src/mfa/).
/** The ways POST /account/login/mfa accepts, as MFA_REQUIRED lists them. */
export const MFA_METHODS = ['totp', 'recovery_code'] as const
/**
 * The right password of a user with TOTP on: no tokens yet. The body carries
 * `mfa_token` (for POST /account/login/mfa) and `methods` besides the
 * contract's fields (plugins/app/errors.ts).
 */
export class MfaRequiredError extends Error {
  readonly code = 'MFA_REQUIRED'
  readonly statusCode = 401
  readonly methods = [...MFA_METHODS]
  constructor (readonly mfaToken: string, readonly userId: string) {
    super('A second factor is required: send a code from the authenticator app (or a recovery code) to POST /account/login/mfa with the mfa_token.')
    this.name = 'MfaRequiredError'
  }
}
/** A wrong TOTP code while enabling TOTP (the user is signed in: a 400). */
export const MfaCodeInvalidError = createError('MFA_CODE_INVALID', 'The code is not valid; enter the current code of the authenticator app.', 400)
/** A wrong, replayed or used-up code (TOTP or recovery) at POST /account/login/mfa. */
export const MfaLoginCodeInvalidError = createError('MFA_CODE_INVALID', 'The code is not valid.', 401)
/** An mfa_token unknown, expired (5 minutes), used, or ended by too many wrong codes: the login starts again with the password. */
export const MfaTokenInvalidError = createError('MFA_TOKEN_INVALID', 'This login attempt is unknown, expired or over; log in again with the password.', 401)
export const MfaAlreadyEnabledError = createError('MFA_ALREADY_ENABLED', 'TOTP is enabled already; turn it off first to enrol another device.', 409)
export const MfaNotEnabledError = createError('MFA_NOT_ENABLED', 'TOTP is not enabled for this account.', 409)
/** POST /account/mfa/totp/confirm with no setup waiting for its code. */
export const MfaSetupRequiredError = createError('MFA_SETUP_REQUIRED', 'No TOTP setup is waiting for confirmation; start with POST /account/mfa/totp/setup.', 409)
// Social login (src/social/, src/accounts/social-accounts.ts). The browser flow
// answers these as a redirect to SOCIAL_REDIRECT_URL?error=<code>; the API
// routes as JSON.
/** The provider's account has the email of an existing account that cannot be linked automatically (either side unverified). */
export const SocialEmailInUseError = createError('SOCIAL_EMAIL_IN_USE', 'An account with this email exists; log in to it and link this provider from there.', 409)
/** The provider gave no email address (or none verified where one is needed). */
export const SocialEmailMissingError = createError('SOCIAL_EMAIL_MISSING', 'The provider did not give an email address.', 400)
/** The browser flow's state cookie is missing, expired, forged or not the one of this sign-in. */
export const SocialStateInvalidError = createError('SOCIAL_STATE_INVALID', 'The sign-in expired or was not started here; start it again.', 400)
/** The user refused consent, or the provider answered the authorization with an error. */
export const SocialDeniedError = createError('SOCIAL_DENIED', 'The sign-in was cancelled at the provider.', 401)
/** The provider's answer (code, ID token, access token) could not be verified. */
export const SocialTokenInvalidError = createError('SOCIAL_TOKEN_INVALID', 'The provider\'s token could not be verified.', 401)
/** The provider could not be reached or answered what it should not. */
export const SocialProviderUnavailableError = createError('SOCIAL_PROVIDER_UNAVAILABLE', 'The provider cannot be reached; try again shortly.', 502)
/** That provider account is linked to another user, or the user has another account of that provider linked. */
export const SocialAccountInUseError = createError('SOCIAL_ACCOUNT_IN_USE', 'This provider account is linked to another user, or another account of this provider is linked to yours.', 409)
export const SocialNotLinkedError = createError('SOCIAL_NOT_LINKED', 'No account of this provider is linked.', 404)
/** Unlinking it would leave the account with no way to log in. */
export const SocialLastLoginMethodError = createError('LAST_LOGIN_METHOD', 'This is the last way to log in to this account; set a password, add a passkey or link another provider first.', 409)
/** /account/social/<name>/… for a name not in SOCIAL_PROVIDERS: the same 404 as an unknown route. */
export const SocialProviderNotFoundError = createError('NOT_FOUND', 'No social login provider of that name is configured.', 404)
