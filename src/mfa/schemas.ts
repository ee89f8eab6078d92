import { Type } from 'typebox'
import { NO_NUL, TOKEN_TEXT } from '../schemas.js'

/* The second factor's routes' schemas (docs/API.md, "Second factor (TOTP)"). */

/**
 * A code as typed: its form is the service's check (MFA_CODE_INVALID), not
 * the schema's, so that a typo answers as any wrong code does.
 */
const Code = Type.String({ minLength: 1, maxLength: 32, pattern: NO_NUL, description: 'The 6 digits the authenticator app shows (spaces ignored).' })
const RecoveryCode = Type.String({ minLength: 1, maxLength: 64, pattern: NO_NUL, description: 'One of the recovery codes (case, spaces and dashes ignored).' })

export const TotpSetup = Type.Object({
  secret: Type.String({ description: 'The new secret, base32 (160 bits), for typing into an app by hand.' }),
  otpauth_url: Type.String({ description: 'otpauth://totp/<issuer>:<email>?secret=…&issuer=…' }),
  qr_svg: Type.String({ description: 'The otpauth URL as a QR code (an SVG document).' })
})

export const ConfirmBody = Type.Object({ code: Code }, { additionalProperties: false })

export const RecoveryCodes = Type.Object({
  recovery_codes: Type.Array(Type.String(), { description: 'Shown once: only their hashes are kept.' })
})

export const MfaStatus = Type.Object({
  totp: Type.Object({
    enabled: Type.Boolean(),
    created_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When TOTP was turned on; null while off.' })
  }),
  recovery_codes_left: Type.Integer({ description: 'Unused recovery codes.' })
})

/** Exactly one of `code` and `recovery_code` (checked by the route, as a VALIDATION_ERROR). */
export const LoginMfaBody = Type.Object({
  mfa_token: Type.String({ pattern: TOKEN_TEXT, description: 'As MFA_REQUIRED gave it.' }),
  code: Type.Optional(Code),
  recovery_code: Type.Optional(RecoveryCode)
}, { additionalProperties: false })
