// From typebox itself (as the type provider re-exports it): the provider's own
// module also loads TypeBox's compiler and value modules, which a start does
// not need.
import { Type } from 'typebox'

/*
 * The JSON schemas of the contract (docs/API.md), shared by the routes:
 * they validate requests, serialize responses (fast-json-stringify) and
 * document the API (OpenAPI) from one declaration.
 */

/**
 * No NUL character (U+0000) in any string the API reads: PostgreSQL refuses it
 * in text (SQLite stores it), so the same input must be refused the same way
 * on both stores, as a validation error, before it reaches either.
 */
export const NO_NUL = '^[^\\u0000]*$'
const Text = (options: Parameters<typeof Type.String>[0] = {}) => Type.String({ pattern: NO_NUL, ...options })

const Email = Text({ format: 'email', maxLength: 254, description: 'Login name; compared case-insensitively.' })
/** Length and strength are the password policy's job (WEAK_PASSWORD), not the schema's. */
const Password = Text({ maxLength: 1024 })
/**
 * A token field: 1 to 4096 characters, none of them NUL. One expression rather
 * than `minLength`, `maxLength` and NO_NUL: ajv measures a string's length by
 * walking it character by character, once per keyword, on every verify,
 * refresh and logout. The count is the same (the `u` flag counts code points, as ajv does).
 */
export const TOKEN_MAX_LENGTH = 4096
export const TOKEN_TEXT = `^[^\\u0000]{1,${TOKEN_MAX_LENGTH}}$`
const Jwt = Type.String({ pattern: TOKEN_TEXT, description: `1 to ${TOKEN_MAX_LENGTH} characters, no NUL.` })

/**
 * A string or null, as one JSON-schema type list rather than an `anyOf`: the
 * user is serialised on every mypage answer, and fast-json-stringify checks
 * each `anyOf` branch with ajv, a type list with a plain typeof.
 */
const NullableString = <T extends string>(options: Record<string, unknown> = {}) =>
  Type.Unsafe<T | null>({ type: ['string', 'null'], ...options })

export const UserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  gender: NullableString<'male' | 'female'>({ enum: ['male', 'female', null] }),
  date_of_birth: NullableString({ format: 'date' }),
  phone_number: NullableString(),
  date_joined: Type.String({ format: 'date-time' }),
  last_login: NullableString({ format: 'date-time' }),
  email_verified: Type.Boolean({ description: 'The address was confirmed by a verification link (EMAIL_VERIFICATION).' })
}, { $id: 'User' })

const ProfileFields = {
  name: Type.Optional(Text({ maxLength: 150 })),
  gender: Type.Optional(Type.Union([Type.Literal('male'), Type.Literal('female'), Type.Null()])),
  date_of_birth: Type.Optional(Type.Union([Type.String({ format: 'date' }), Type.Null()])),
  phone_number: Type.Optional(Type.Union([
    Type.String({ minLength: 1, maxLength: 20, pattern: '^[0-9 +()-]*[0-9][0-9 +()-]*$' }),
    Type.Null()
  ]))
}

export const JoinBody = Type.Object({
  email: Email,
  password: Password,
  ...ProfileFields
}, { additionalProperties: false })

export const LoginBody = Type.Object({
  email: Text({ minLength: 1, maxLength: 254 }),
  password: Password
}, { additionalProperties: false })

export const RefreshBody = Type.Object({
  refresh: Type.Optional(Jwt)
}, { additionalProperties: false })

export const VerifyBody = Type.Object({
  token: Jwt
}, { additionalProperties: false })

export const LogoutBody = Type.Object({
  refresh: Type.Optional(Jwt),
  all: Type.Optional(Type.Boolean())
}, { additionalProperties: false })

export const PasswordChangeBody = Type.Object({
  old_password: Password,
  new_password: Password
}, { additionalProperties: false })

/** PATCH /account/mypage: the editable fields only; `id`, `email`, `date_joined`… are not allowed fields. */
export const ProfileBody = Type.Object(ProfileFields, { additionalProperties: false })

export const EmailChangeBody = Type.Object({
  password: Password,
  new_email: Email
}, { additionalProperties: false })

/** The current password alone: account deletion, TOTP off, new recovery codes. */
export const PasswordBody = Type.Object({
  password: Password
}, { additionalProperties: false })

export const EmailBody = Type.Object({
  email: Email
}, { additionalProperties: false })

/** A mailed one-time token (43 characters as issued). */
const MailToken = Text({ minLength: 1, maxLength: 256 })

export const PasswordResetConfirmBody = Type.Object({
  token: MailToken,
  new_password: Password
}, { additionalProperties: false })

export const EmailVerifyBody = Type.Object({
  token: MailToken
}, { additionalProperties: false })

export const Detail = Type.Object({ detail: Type.String() })
export const UserWithDetail = Type.Object({ user: UserSchema, detail: Type.String() })

export const TokenPair = Type.Object({ access: Type.String(), refresh: Type.String() })
export const UserWithTokens = Type.Object({ user: UserSchema, access: Type.String(), refresh: Type.String() })

/** RFC 7517 JWK Set: public keys only (never an HS256 secret). */
export const Jwks = Type.Object({
  keys: Type.Array(Type.Object({
    kty: Type.String(),
    kid: Type.String(),
    alg: Type.String(),
    use: Type.String(),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String())
  }))
})

/**
 * RFC 7662 §2.1: `token`, and an optional `token_type_hint` (access_token,
 * refresh_token); `client_id` and `client_secret` when the client authenticates
 * in the body (RFC 6749 §2.3.1, client_secret_post), checked before this schema.
 */
export const IntrospectBody = Type.Object({
  token: Type.String({ maxLength: TOKEN_MAX_LENGTH }),
  token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
  client_id: Type.Optional(Type.String({ maxLength: 1024 })),
  client_secret: Type.Optional(Type.String({ maxLength: 8192 }))
}, { additionalProperties: false })

/**
 * RFC 8414 authorization-server metadata: only what the service really offers
 * (routes/.well-known/oauth-authorization-server/).
 */
export const AuthorizationServerMetadata = Type.Object({
  issuer: Type.String(),
  jwks_uri: Type.Optional(Type.String()),
  introspection_endpoint: Type.Optional(Type.String()),
  introspection_endpoint_auth_methods_supported: Type.Optional(Type.Array(Type.String())),
  response_types_supported: Type.Array(Type.String()),
  grant_types_supported: Type.Array(Type.String())
})

/** RFC 7662 §2.2: `{"active": false}` and nothing else for any token that is not live. */
export const Introspection = Type.Object({
  active: Type.Boolean(),
  token_type: Type.Optional(Type.Union([Type.Literal('access'), Type.Literal('refresh')])),
  sub: Type.Optional(Type.String()),
  user_id: Type.Optional(Type.String()),
  email: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  jti: Type.Optional(Type.String()),
  /** JWT_ISSUER / JWT_AUDIENCE, for an access token that carries them (RFC 7662 §2.2). */
  iss: Type.Optional(Type.String()),
  aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())]))
})

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() })))
}, { $id: 'Error' })

/**
 * POST /account/login's 401: the error body, and with MFA_REQUIRED (TOTP on)
 * the `mfa_token` to send to POST /account/login/mfa and the `methods` it takes.
 */
export const LoginErrorBody = Type.Object({
  ...ErrorBody.properties,
  mfa_token: Type.Optional(Type.String()),
  methods: Type.Optional(Type.Array(Type.String()))
})

/** The error statuses a route can answer, each with the common error body. */
export function errors (...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries([400, 413, 415, 429, 500, 503, ...statuses].map((s) => [s, ErrorBody]))
}
