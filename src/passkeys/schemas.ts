import { Type } from 'typebox'
import { NO_NUL } from '../schemas.js'

/*
 * The passkey routes' schemas: the WebAuthn Level 3 JSON serialisation
 * (PublicKeyCredentialCreationOptionsJSON, RegistrationResponseJSON, …) as
 * browsers' toJSON() and parse…FromJSON() use it. Responses list every field
 * the service sends (fast-json-stringify drops the others); requests accept
 * fields a newer browser may add inside `response` and `clientExtensionResults`.
 */

const B64URL = '^[A-Za-z0-9_-]*={0,2}$'
const Base64Url = (maxLength: number) => Type.String({ minLength: 1, maxLength, pattern: B64URL })
/** A credential id: at most 1023 bytes (WebAuthn), about 1364 base64url characters. */
const CredentialId = Base64Url(1400)
const Transports = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 16 })
const Descriptor = Type.Object({ id: Type.String(), type: Type.Literal('public-key'), transports: Type.Optional(Transports) })
const Extensions = Type.Object({ credProps: Type.Optional(Type.Boolean()) }, { additionalProperties: true })

export const PasskeyName = Type.String({ minLength: 1, maxLength: 64, pattern: NO_NUL })

export const PasskeySchema = Type.Object({
  id: Type.String({ description: 'The credential id (base64url).' }),
  name: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  backed_up: Type.Boolean({ description: 'The authenticator reported the credential as backed up (synced).' })
})

export const CreationOptions = Type.Object({
  challenge: Type.String(),
  rp: Type.Object({ name: Type.String(), id: Type.Optional(Type.String()) }),
  user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }),
  pubKeyCredParams: Type.Array(Type.Object({ alg: Type.Integer(), type: Type.Literal('public-key') })),
  timeout: Type.Optional(Type.Integer()),
  attestation: Type.Optional(Type.String()),
  excludeCredentials: Type.Optional(Type.Array(Descriptor)),
  authenticatorSelection: Type.Optional(Type.Object({
    residentKey: Type.Optional(Type.String()),
    requireResidentKey: Type.Optional(Type.Boolean()),
    userVerification: Type.Optional(Type.String()),
    authenticatorAttachment: Type.Optional(Type.String())
  })),
  extensions: Type.Optional(Extensions),
  hints: Type.Optional(Type.Array(Type.String()))
}, { description: 'PublicKeyCredentialCreationOptionsJSON: pass to PublicKeyCredential.parseCreationOptionsFromJSON().' })

export const RequestOptions = Type.Object({
  challenge: Type.String(),
  rpId: Type.Optional(Type.String()),
  allowCredentials: Type.Optional(Type.Array(Descriptor)),
  timeout: Type.Optional(Type.Integer()),
  userVerification: Type.Optional(Type.String()),
  extensions: Type.Optional(Extensions)
}, { description: 'PublicKeyCredentialRequestOptionsJSON: pass to PublicKeyCredential.parseRequestOptionsFromJSON().' })

const CredentialFields = {
  id: CredentialId,
  rawId: CredentialId,
  type: Type.Literal('public-key'),
  authenticatorAttachment: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
  clientExtensionResults: Type.Object({}, { additionalProperties: true })
}

/** RegistrationResponseJSON: what `credential.toJSON()` gives after navigator.credentials.create(). */
export const RegistrationResponse = Type.Object({
  ...CredentialFields,
  response: Type.Object({
    clientDataJSON: Base64Url(4096),
    attestationObject: Base64Url(8192),
    authenticatorData: Type.Optional(Base64Url(8192)),
    transports: Type.Optional(Transports),
    publicKeyAlgorithm: Type.Optional(Type.Integer()),
    publicKey: Type.Optional(Base64Url(4096))
  }, { additionalProperties: true })
}, { additionalProperties: false })

/** AuthenticationResponseJSON: what `credential.toJSON()` gives after navigator.credentials.get(). */
export const AuthenticationResponse = Type.Object({
  ...CredentialFields,
  response: Type.Object({
    clientDataJSON: Base64Url(4096),
    authenticatorData: Base64Url(4096),
    signature: Base64Url(2048),
    userHandle: Type.Optional(Type.Union([Type.String({ maxLength: 128, pattern: B64URL }), Type.Null()]))
  }, { additionalProperties: true })
}, { additionalProperties: false })

export const RegisterVerifyBody = Type.Object({
  response: RegistrationResponse,
  name: Type.Optional(PasskeyName)
}, { additionalProperties: false })

export const LoginOptionsBody = Type.Object({
  email: Type.Optional(Type.String({ minLength: 1, maxLength: 254, pattern: NO_NUL }))
}, { additionalProperties: false })

export const LoginVerifyBody = Type.Object({
  response: AuthenticationResponse
}, { additionalProperties: false })

export const RenameBody = Type.Object({ name: PasskeyName }, { additionalProperties: false })

export const PasskeyIdParams = Type.Object({ id: CredentialId })
