import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { isoCBOR } from '@simplewebauthn/server/helpers'

/*
 * A software authenticator for the server-side passkey tests: it answers the
 * service's options as a platform authenticator would (ES256 key, attestation
 * "none", CBOR by @simplewebauthn's own encoder), and lets a test bend any
 * part of the answer (origin, RP ID, flags, counter, challenge) to see it refused.
 */

const b64url = (bytes: Uint8Array | Buffer): string => Buffer.from(bytes).toString('base64url')
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest()

const FLAG_UP = 0x01
const FLAG_UV = 0x04
const FLAG_AT = 0x40

export interface SoftCredential {
  id: string
  privateKey: KeyObject
  /** The user handle the service asked to store (options.user.id). */
  userHandle: string
  rpId: string
  counter: number
}

export interface Bend {
  /** Default: the origin the test passed. */
  origin?: string
  /** The RP ID whose hash goes in authenticatorData (default the options' or credential's). */
  rpId?: string
  /** Answer this challenge instead of the options' one. */
  challenge?: string
  /** User verified flag (default true). */
  uv?: boolean
  /** The signature counter to send (default: the credential's, plus one). */
  counter?: number
  /** clientDataJSON's type (default webauthn.create / webauthn.get). */
  type?: string
  /** Registration: this credential again (its id and key) instead of a new one. */
  same?: SoftCredential
}

function authData (rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
  const c = Buffer.alloc(4)
  c.writeUInt32BE(counter)
  return Buffer.concat([sha256(rpId), Buffer.from([flags]), c, ...(attested === undefined ? [] : [attested])])
}

/** navigator.credentials.create() + toJSON(): a RegistrationResponseJSON for `options`, and the credential kept by the "authenticator". */
export function createCredential (options: { challenge: string, rp: { id?: string }, user: { id: string } }, origin: string, bend: Bend = {}): { response: Record<string, unknown>, credential: SoftCredential } {
  const pair = bend.same === undefined ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : undefined
  const privateKey = bend.same?.privateKey ?? (pair as { privateKey: KeyObject }).privateKey
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' })
  const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([
    [1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x ?? '', 'base64url')], [-3, Buffer.from(jwk.y ?? '', 'base64url')]
  ]))
  const id = bend.same === undefined ? randomBytes(16) : Buffer.from(bend.same.id, 'base64url')
  const idLength = Buffer.alloc(2)
  idLength.writeUInt16BE(id.length)
  const rpId = bend.rpId ?? options.rp.id ?? ''
  const counter = bend.counter ?? 0
  const flags = FLAG_UP | FLAG_AT | (bend.uv === false ? 0 : FLAG_UV)
  const data = authData(rpId, flags, counter, Buffer.concat([Buffer.alloc(16), idLength, id, Buffer.from(cose)]))
  const attestationObject = isoCBOR.encode(new Map<string, string | Map<string, string> | Uint8Array>([['fmt', 'none'], ['attStmt', new Map<string, string>()], ['authData', data]]))
  const clientDataJSON = JSON.stringify({ type: bend.type ?? 'webauthn.create', challenge: bend.challenge ?? options.challenge, origin: bend.origin ?? origin, crossOrigin: false })
  return {
    credential: { id: b64url(id), privateKey, userHandle: options.user.id, rpId: options.rp.id ?? rpId, counter },
    response: {
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: { clientDataJSON: b64url(Buffer.from(clientDataJSON)), attestationObject: b64url(attestationObject), transports: ['internal'] }
    }
  }
}

/** navigator.credentials.get() + toJSON(): an AuthenticationResponseJSON for `options`, signed by `credential` (whose counter moves as sent). */
export function getAssertion (credential: SoftCredential, options: { challenge: string }, origin: string, bend: Bend = {}): Record<string, unknown> {
  const counter = bend.counter ?? credential.counter + 1
  credential.counter = counter
  const flags = FLAG_UP | (bend.uv === false ? 0 : FLAG_UV)
  const data = authData(bend.rpId ?? credential.rpId, flags, counter)
  const clientDataJSON = Buffer.from(JSON.stringify({ type: bend.type ?? 'webauthn.get', challenge: bend.challenge ?? options.challenge, origin: bend.origin ?? origin, crossOrigin: false }))
  const signature = sign('sha256', Buffer.concat([data, sha256(clientDataJSON)]), credential.privateKey)
  return {
    id: credential.id,
    rawId: credential.id,
    type: 'public-key',
    authenticatorAttachment: 'platform',
    clientExtensionResults: {},
    response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(data), signature: b64url(signature), userHandle: credential.userHandle }
  }
}
