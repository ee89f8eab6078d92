import { randomUUID } from 'node:crypto'
import type {
  AuthenticationResponseJSON, AuthenticatorTransportFuture, PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON, RegistrationResponseJSON
} from '@simplewebauthn/server'
import type { SignIn } from '../accounts/sign-in.js'
import type { WebauthnConfig } from '../config.js'
import type { ChallengePurpose, Passkey, Store, User } from '../db/store.js'
import {
  LastLoginMethodError, PasskeyExistsError, PasskeyInvalidError,
  PasskeyNotFoundError, PasskeyRegistrationInvalidError, PasskeysUnavailableError
} from '../errors.js'
import type { TokenPair } from '../tokens/claims.js'
import type { LoginContext } from '../sessions/sessions.js'

/*
 * Passkeys (WebAuthn), the ceremonies done by @simplewebauthn/server: options
 * to hand to the browser, and the verification of what it sends back. The
 * challenges live in the database (Store.webauthnChallenges), each used up by
 * the verification that presents it, whichever instance answers it.
 */

/** How long a challenge may be answered: the options' `timeout` too. */
export const CHALLENGE_LIFETIME = 300
/** EdDSA, ES256, RS256 (COSE identifiers), in the order offered. */
export const ALGORITHMS = [-8, -7, -257]
const DEFAULT_NAME = 'Passkey'

/** What the service logs about passkeys, beyond the routes' own lines (never a credential's key or signature). */
export type PasskeyEvent =
  | { event: 'passkey_counter_regressed', userId: string, passkeyId: string, storedCounter: number, presentedCounter: number }
  | { event: 'passkey_refused', reason: string, passkeyId?: string, userId?: string }

/** A usable password: not empty and not Django's unusable mark (`!…`). */
export const hasUsablePassword = (hash: string): boolean => hash !== '' && !hash.startsWith('!')

/** The passkey as the API shows it: never its public key or counter. */
export function publicPasskey (passkey: Passkey) {
  return {
    id: passkey.id,
    name: passkey.name,
    created_at: new Date(passkey.createdAt * 1000).toISOString(),
    last_used_at: passkey.lastUsedAt === null ? null : new Date(passkey.lastUsedAt * 1000).toISOString(),
    backed_up: passkey.backedUp
  }
}
export type PublicPasskey = ReturnType<typeof publicPasskey>

// Loaded at the first ceremony, not at start: the package and its X.509 and
// ASN.1 dependencies are not on the start's path (scripts/build.mjs leaves an
// import() to Node).
let library: Promise<typeof import('@simplewebauthn/server')> | undefined
let helpers: Promise<typeof import('@simplewebauthn/server/helpers')> | undefined
const webauthn = async () => await (library ??= import('@simplewebauthn/server'))
const webauthnHelpers = async () => await (helpers ??= import('@simplewebauthn/server/helpers'))

export interface PasskeyServiceOptions {
  store: Store
  /** Who may be logged in, and the one place a login is issued (src/accounts/sign-in.ts). */
  signIn: SignIn
  config: WebauthnConfig
  onEvent?: (event: PasskeyEvent) => void
  nowMs?: () => number
}

export function createPasskeyService ({ store, signIn, config, onEvent = () => {}, nowMs = Date.now }: PasskeyServiceOptions) {
  const seconds = (): number => Math.floor(nowMs() / 1000)
  /** What both ceremonies check alike: the challenge handed out, our origins and RP ID, user verification. */
  const expected = (challenge: string) =>
    ({ expectedChallenge: challenge, expectedOrigin: config.origins, expectedRPID: config.rpId, requireUserVerification: true })

  function assertAvailable (): void {
    if (config.unavailable !== undefined) throw new PasskeysUnavailableError(config.unavailable)
  }

  const transportsOf = (passkey: Passkey): AuthenticatorTransportFuture[] =>
    passkey.transports === '' ? [] : passkey.transports.split(',') as AuthenticatorTransportFuture[]

  async function keepChallenge (challenge: string, purpose: ChallengePurpose, userId: string | null): Promise<void> {
    await store.webauthnChallenges.create({ id: randomUUID(), userId, purpose, challenge, expiresAt: seconds() + CHALLENGE_LIFETIME })
  }

  /** The challenge a response answers, from its clientDataJSON; undefined when that cannot be read. */
  async function challengeOf (clientDataJSON: string): Promise<string | undefined> {
    const { decodeClientDataJSON } = await webauthnHelpers()
    try {
      const challenge = decodeClientDataJSON(clientDataJSON).challenge
      return typeof challenge === 'string' && challenge !== '' ? challenge : undefined
    } catch {
      return undefined
    }
  }

  return {
    assertAvailable,

    /** POST /account/passkeys/register/options: a discoverable credential with user verification, the user's own excluded. */
    async registrationOptions (user: User): Promise<PublicKeyCredentialCreationOptionsJSON> {
      assertAvailable()
      const { generateRegistrationOptions } = await webauthn()
      const existing = await store.passkeys.byUser(user.id)
      const options = await generateRegistrationOptions({
        rpName: config.rpName,
        rpID: config.rpId,
        userName: user.email,
        // The user handle a discoverable credential returns at sign-in: the user's id.
        userID: new TextEncoder().encode(user.id),
        userDisplayName: user.name !== '' ? user.name : user.email,
        timeout: CHALLENGE_LIFETIME * 1000,
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.id, transports: transportsOf(p) })),
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        supportedAlgorithmIDs: ALGORITHMS
      })
      await keepChallenge(options.challenge, 'registration', user.id)
      return options
    },

    /** POST /account/passkeys/register/verify: the new passkey, stored. */
    async verifyRegistration (user: User, response: RegistrationResponseJSON, name?: string): Promise<Passkey> {
      assertAvailable()
      const refuse = (reason: string): never => {
        onEvent({ event: 'passkey_refused', reason, userId: user.id })
        throw new PasskeyRegistrationInvalidError()
      }
      const challenge = await challengeOf(response.response.clientDataJSON) ?? refuse('unreadable clientDataJSON')
      // Used up before anything else is checked: a failed attempt spends it too.
      if (await store.webauthnChallenges.consume(challenge, 'registration', seconds(), user.id) === undefined) {
        refuse('registration challenge unknown, expired, used or another user\'s')
      }
      const { verifyRegistrationResponse } = await webauthn()
      const { isoBase64URL } = await webauthnHelpers()
      let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>
      try {
        verified = await verifyRegistrationResponse({
          response,
          ...expected(challenge),
          supportedAlgorithmIDs: ALGORITHMS
        })
      } catch (err) {
        return refuse((err as Error).message)
      }
      if (!verified.verified) return refuse('registration not verified')
      const { credential, credentialBackedUp } = verified.registrationInfo
      const count = (await store.passkeys.byUser(user.id)).length
      const passkey = {
        id: credential.id,
        userId: user.id,
        publicKey: isoBase64URL.fromBuffer(credential.publicKey),
        counter: credential.counter,
        transports: (response.response.transports ?? []).join(','),
        backedUp: credentialBackedUp,
        name: name ?? (count === 0 ? DEFAULT_NAME : `${DEFAULT_NAME} ${count + 1}`),
        createdAt: seconds()
      }
      if (!await store.passkeys.create(passkey)) throw new PasskeyExistsError()
      return { ...passkey, lastUsedAt: null }
    },

    /**
     * POST /account/passkeys/login/options: usernameless (an empty
     * allowCredentials) unless `email` names an active user with passkeys,
     * whose passkeys are then listed.
     */
    async authenticationOptions (email?: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
      assertAvailable()
      const { generateAuthenticationOptions } = await webauthn()
      const user = email === undefined ? undefined : await store.users.byEmail(email.trim().toLowerCase())
      const allowed = user === undefined || !user.isActive ? [] : await store.passkeys.byUser(user.id)
      const options = await generateAuthenticationOptions({
        rpID: config.rpId,
        allowCredentials: allowed.map((p) => ({ id: p.id, transports: transportsOf(p) })),
        userVerification: 'required',
        timeout: CHALLENGE_LIFETIME * 1000
      })
      await keepChallenge(options.challenge, 'authentication', null)
      return options
    },

    /**
     * POST /account/passkeys/login/verify: a login as a password login is
     * (last_login and a new token family in one transaction). Every refusal
     * of the response is PASSKEY_INVALID; an inactive user (or an unverified
     * address under mandatory verification) is told so only after the
     * passkey was proven, as the password login tells it only to whoever
     * knows the password.
     */
    async verifyAuthentication (response: AuthenticationResponseJSON, session?: LoginContext): Promise<{ user: User, tokens: TokenPair, passkey: Passkey }> {
      assertAvailable()
      const refuse = (reason: string, about: { passkeyId?: string, userId?: string } = {}): never => {
        onEvent({ event: 'passkey_refused', reason, ...about })
        throw new PasskeyInvalidError()
      }
      const challenge = await challengeOf(response.response.clientDataJSON) ?? refuse('unreadable clientDataJSON')
      if (await store.webauthnChallenges.consume(challenge, 'authentication', seconds()) === undefined) {
        refuse('sign-in challenge unknown, expired or used')
      }
      const passkey = await store.passkeys.byId(response.id) ?? refuse('unknown credential', { passkeyId: response.id })
      const about = { passkeyId: passkey.id, userId: passkey.userId }
      const { verifyAuthenticationResponse } = await webauthn()
      const { isoBase64URL } = await webauthnHelpers()
      const handle = response.response.userHandle
      if (handle !== undefined && handle !== null && handle !== '' && handle !== isoBase64URL.fromUTF8String(passkey.userId)) {
        refuse('user handle is not the passkey\'s user', about)
      }
      const user = await store.users.byId(passkey.userId) ?? refuse('the passkey\'s user is gone', about)
      let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>
      try {
        verified = await verifyAuthenticationResponse({
          response,
          ...expected(challenge),
          // The counter is compared below, once the signature is known to be
          // good: a regression is then a real sign of a cloned authenticator.
          credential: { id: passkey.id, publicKey: isoBase64URL.toBuffer(passkey.publicKey), counter: 0, transports: transportsOf(passkey) }
        })
      } catch (err) {
        return refuse((err as Error).message, about)
      }
      if (!verified.verified) return refuse('signature not verified', about)
      const { newCounter, credentialBackedUp } = verified.authenticationInfo
      const regressed = (): never => {
        onEvent({ event: 'passkey_counter_regressed', userId: user.id, passkeyId: passkey.id, storedCounter: passkey.counter, presentedCounter: newCounter })
        throw new PasskeyInvalidError()
      }
      // Authenticators without a counter always send 0; any other must move forward.
      if ((newCounter > 0 || passkey.counter > 0) && newCounter <= passkey.counter) regressed()
      signIn.assertMayLogIn(user)
      // Only if the counter is still the one compared: of two sign-ins racing
      // with the same counter value (a clone) one is refused.
      if (!await store.passkeys.recordUse(passkey.id, passkey.counter, newCounter, credentialBackedUp, seconds())) regressed()
      return { ...await signIn.issueLogin(user, undefined, session ?? { method: 'passkey', userAgent: null, ip: null }), passkey }
    },

    async list (user: User): Promise<Passkey[]> {
      assertAvailable()
      return await store.passkeys.byUser(user.id)
    },

    async rename (user: User, id: string, name: string): Promise<Passkey> {
      assertAvailable()
      return await store.passkeys.rename(user.id, id, name) ?? (() => { throw new PasskeyNotFoundError() })()
    },

    /** Refused (409) when the user would be left without a way to log in: no usable password, no other passkey, no social login identity. */
    async remove (user: User, id: string): Promise<void> {
      assertAvailable()
      const outcome = await store.passkeys.remove(user.id, id, (row, left, methods) => left > 0 || methods.identities > 0 || hasUsablePassword(row.passwordHash))
      if (outcome === 'not_found') throw new PasskeyNotFoundError()
      if (outcome === 'last_login_method') throw new LastLoginMethodError()
    },

    /** Deletes expired challenges; returns how many. */
    async purgeChallenges (): Promise<number> {
      return await store.webauthnChallenges.purgeExpired(seconds())
    }
  }
}

export type PasskeyService = ReturnType<typeof createPasskeyService>
