import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { EmailTakenError } from '../../src/errors.js'
import type { AccountToken, NewAccountToken, NewRefreshToken, NewUser, User } from '../../src/db/store.js'
import { storeToken } from '../helpers/app.js'
import { storeDatabases } from '../helpers/store.js'

/*
 * Redeeming mailed tokens (accountTokens.resetPassword and verifyEmail), on
 * SQLite and PostgreSQL alike: each is one transaction, so a refusal or a
 * failure at any step writes nothing and leaves the token usable, and of
 * concurrent redemptions of one token exactly one succeeds.
 *
 * `sql` runs statements beside the store (another connection), to inject
 * faults: a trigger that refuses the last write of a redemption.
 */

/** The statement that makes a login's token insert fail, per implementation. */
const REFUSE_LOGIN: Record<string, string> = {
  sqlite: `CREATE TRIGGER refuse_login BEFORE INSERT ON refresh_tokens WHEN NEW.family_id = 'injected-fault'
      BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
  postgres: `CREATE FUNCTION refuse_login() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
      CREATE TRIGGER refuse_login BEFORE INSERT ON refresh_tokens FOR EACH ROW WHEN (NEW.family_id = 'injected-fault') EXECUTE FUNCTION refuse_login()`
}

const NOW = Math.floor(Date.now() / 1000)
const accept = (): boolean => true

function newUser (over: Partial<NewUser> = {}): NewUser {
  const id = randomUUID()
  return { id, email: `u-${id}@example.com`, passwordHash: 'old-hash', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null, ...over }
}

const newToken = (userId: string, over: Partial<NewRefreshToken> = {}): NewRefreshToken =>
  ({ id: randomUUID(), userId, familyId: randomUUID(), expiresAt: NOW + 3600, createdAt: NOW, ...over })

const mailed = (user: User, over: Partial<NewAccountToken> = {}): NewAccountToken =>
  ({ id: randomUUID(), userId: user.id, purpose: 'password_reset', email: user.email, passwordFingerprint: 'fp', expiresAt: NOW + 3600, createdAt: NOW, ...over })

for (const [kind, database] of storeDatabases) {
  t.test(kind, async (t) => {
    const { open, sql } = await database(t)
    const store = await open()
    const refuseLoginTrigger = REFUSE_LOGIN[kind] ?? ''

    /** A user with one live session and a reset token; the user is read once, so that it is cached. */
    async function resettable (): Promise<{ user: User, session: NewRefreshToken, token: NewAccountToken }> {
      const user = await store.users.create(newUser())
      const session = newToken(user.id)
      await storeToken(store, session)
      const token = mailed(user)
      await store.accountTokens.create(token)
      await store.users.byId(user.id)
      return { user, session, token }
    }

    /** Nothing of a refused or failed reset was written. */
    async function unchanged (t: Test, { user, session, token }: { user: User, session: NewRefreshToken, token: NewAccountToken }, next: NewRefreshToken): Promise<void> {
      t.equal((await store.accountTokens.byId(token.id))?.usedAt, null, 'the token is still usable')
      t.match(await store.users.byId(user.id), { passwordHash: 'old-hash', emailVerified: false }, 'the user is as it was')
      t.match(await store.refreshTokens.byId(session.id), { revokedAt: null }, 'the session is still live')
      t.equal(await store.refreshTokens.byId(next.id), undefined, 'no new login')
    }

    t.test('resetPassword: the token used up, the hash, the address verified, every session revoked as a password change, the new login', async (t) => {
      const r = await resettable()
      const next = newToken(r.user.id)
      const seen: Array<[AccountToken, User]> = []
      const updated = await store.accountTokens.resetPassword(r.token.id, 'new-hash', next, NOW + 1, (token, user) => { seen.push([token, user]); return true })
      t.match(seen, [[{ id: r.token.id, usedAt: null }, { id: r.user.id, passwordHash: 'old-hash' }]], 'accept is asked about the token and the user\'s row')
      t.match(updated, { id: r.user.id, passwordHash: 'new-hash', emailVerified: true }, 'the updated user is returned')
      t.strictSame(await store.users.byId(r.user.id), updated, 'and seen at once (the cached row was dropped)')
      t.equal((await store.accountTokens.byId(r.token.id))?.usedAt, NOW + 1)
      t.match(await store.refreshTokens.byId(r.session.id), { revokedAt: NOW + 1, revokeReason: 'password_change' }, 'no grace window for the old sessions')
      t.match(await store.refreshTokens.byId(next.id), { revokedAt: null, userId: r.user.id })

      const again = newToken(r.user.id)
      t.equal(await store.accountTokens.resetPassword(r.token.id, 'third-hash', again, NOW + 2, accept), undefined, 'single use')
      t.equal((await store.users.byId(r.user.id))?.passwordHash, 'new-hash')
      t.equal(await store.refreshTokens.byId(again.id), undefined)
    })

    t.test('resetPassword refuses, writing nothing: another purpose, expired, another user\'s login, not accepted, unknown', async (t) => {
      const r = await resettable()
      const verification = mailed(r.user, { purpose: 'email_verification', passwordFingerprint: null })
      const expired = mailed(r.user, { expiresAt: NOW })
      for (const token of [verification, expired]) await store.accountTokens.create(token)
      const other = await store.users.create(newUser())
      const next = newToken(r.user.id)
      t.equal(await store.accountTokens.resetPassword(verification.id, 'new-hash', next, NOW, accept), undefined, 'a verification token')
      t.equal((await store.accountTokens.byId(verification.id))?.usedAt, null)
      t.equal(await store.accountTokens.resetPassword(expired.id, 'new-hash', next, NOW, accept), undefined, 'expired at its expiry second')
      t.equal(await store.accountTokens.resetPassword(r.token.id, 'new-hash', newToken(other.id), NOW, accept), undefined, 'a new login of another user')
      t.equal(await store.accountTokens.resetPassword(r.token.id, 'new-hash', next, NOW, () => false), undefined, 'not accepted')
      t.equal(await store.accountTokens.resetPassword(randomUUID(), 'new-hash', next, NOW, accept), undefined, 'unknown')
      await unchanged(t, r, next)
    })

    t.test('resetPassword: a failure at its last step (the new login refused) writes nothing; the token still works', async (t) => {
      await sql(refuseLoginTrigger)
      const r = await resettable()
      const failing = newToken(r.user.id, { familyId: 'injected-fault' })
      await t.rejects(store.accountTokens.resetPassword(r.token.id, 'new-hash', failing, NOW + 1, accept), /injected fault/)
      await unchanged(t, r, failing)
      const next = newToken(r.user.id)
      t.match(await store.accountTokens.resetPassword(r.token.id, 'new-hash', next, NOW + 2, accept), { passwordHash: 'new-hash' }, 'the link is used once it works')
    })

    t.test('resetPassword: of 20 concurrent redemptions of one token exactly one succeeds', async (t) => {
      const r = await resettable()
      const nexts = Array.from({ length: 20 }, () => newToken(r.user.id))
      const results = await Promise.all(nexts.map(async (next, i) => await store.accountTokens.resetPassword(r.token.id, `hash-${i}`, next, NOW + 1, accept)))
      const winners = results.flatMap((user, i) => user === undefined ? [] : [i])
      t.equal(winners.length, 1, 'one winner')
      t.equal((await store.users.byId(r.user.id))?.passwordHash, `hash-${winners[0]}`)
      const stored = (await Promise.all(nexts.map(async (next) => await store.refreshTokens.byId(next.id)))).filter((row) => row !== undefined)
      t.equal(stored.length, 1, 'one new login')
    })

    t.test('verifyEmail: a verification or an email-change token, found by one lookup; a reset token is not one', async (t) => {
      const user = await store.users.create(newUser())
      await store.users.byId(user.id)
      const verification = mailed(user, { purpose: 'email_verification', passwordFingerprint: null })
      const change = mailed(user, { purpose: 'email_change', passwordFingerprint: null, email: `new-${user.id}@example.com` })
      const reset = mailed(user)
      for (const token of [verification, change, reset]) await store.accountTokens.create(token)

      t.equal(await store.accountTokens.verifyEmail(reset.id, NOW, accept), undefined, 'a reset token')
      t.equal((await store.accountTokens.byId(reset.id))?.usedAt, null)
      const verified = await store.accountTokens.verifyEmail(verification.id, NOW + 1, accept)
      t.match(verified, { id: user.id, email: user.email, emailVerified: true })
      t.strictSame(await store.users.byId(user.id), verified, 'seen at once (the cached row was dropped)')
      t.equal(await store.accountTokens.verifyEmail(verification.id, NOW + 1, accept), undefined, 'single use')
      t.equal((await store.accountTokens.byId(verification.id))?.usedAt, NOW + 1)
      t.equal(await store.accountTokens.verifyEmail(change.id, NOW + 2, () => false), undefined, 'not accepted')
      t.equal((await store.accountTokens.byId(change.id))?.usedAt, null, 'and left usable')
      t.match(await store.accountTokens.verifyEmail(change.id, NOW + 2, accept), { email: change.email, emailVerified: true }, 'an email change applies its address')
      t.equal((await store.users.byId(user.id))?.email, change.email)
    })

    t.test('verifyEmail: an address taken meanwhile is EmailTakenError, nothing written; the link works once it is free', async (t) => {
      const user = await store.users.create(newUser())
      const wanted = `wanted-${user.id}@example.com`
      const change = mailed(user, { purpose: 'email_change', passwordFingerprint: null, email: wanted })
      await store.accountTokens.create(change)
      const squatter = await store.users.create(newUser({ email: wanted }))
      await t.rejects(store.accountTokens.verifyEmail(change.id, NOW, accept), EmailTakenError)
      t.equal((await store.accountTokens.byId(change.id))?.usedAt, null, 'the token is still usable')
      t.match(await store.users.byId(user.id), { email: user.email, emailVerified: false })
      await store.users.remove(squatter.id)
      t.match(await store.accountTokens.verifyEmail(change.id, NOW, accept), { email: wanted, emailVerified: true })
    })

    t.test('verifyEmail: of 20 concurrent redemptions of one token exactly one succeeds', async (t) => {
      const user = await store.users.create(newUser())
      const token = mailed(user, { purpose: 'email_verification', passwordFingerprint: null })
      await store.accountTokens.create(token)
      const results = await Promise.all(Array.from({ length: 20 }, async () => await store.accountTokens.verifyEmail(token.id, NOW, accept)))
      t.equal(results.filter((r) => r !== undefined).length, 1)
    })

    t.test('a new email-change token supersedes the earlier ones; other purposes and users are kept', async (t) => {
      const user = await store.users.create(newUser())
      const other = await store.users.create(newUser())
      const first = mailed(user, { purpose: 'email_change', email: 'first@new.test' })
      const verification = mailed(user, { purpose: 'email_verification', passwordFingerprint: null })
      const othersChange = mailed(other, { purpose: 'email_change', email: 'other@new.test' })
      for (const token of [first, verification, othersChange]) await store.accountTokens.create(token)
      const second = mailed(user, { purpose: 'email_change', email: 'second@new.test' })
      await store.accountTokens.create(second)
      t.equal(await store.accountTokens.byId(first.id), undefined, 'the earlier change is gone')
      t.ok(await store.accountTokens.byId(second.id))
      t.ok(await store.accountTokens.byId(verification.id))
      t.ok(await store.accountTokens.byId(othersChange.id), "another user's change is kept")
    })

    t.test('a new password (setPassword, resetPassword) deletes the pending email-change and verification tokens', async (t) => {
      const user = await store.users.create(newUser())
      const change = mailed(user, { purpose: 'email_change', email: 'a@new.test' })
      const verification = mailed(user, { purpose: 'email_verification', passwordFingerprint: null })
      const reset = mailed(user)
      for (const token of [change, verification, reset]) await store.accountTokens.create(token)
      await store.users.setPassword(user.id, 'new-hash', NOW)
      t.equal(await store.accountTokens.byId(change.id), undefined)
      t.equal(await store.accountTokens.byId(verification.id), undefined)
      t.ok(await store.accountTokens.byId(reset.id), 'a reset token is void by its fingerprint, not deleted')

      const change2 = mailed(user, { purpose: 'email_change', email: 'b@new.test' })
      await store.accountTokens.create(change2)
      t.ok(await store.accountTokens.resetPassword(reset.id, 'newer-hash', newToken(user.id), NOW, accept))
      t.equal(await store.accountTokens.byId(change2.id), undefined, 'a reset too')
    })

    t.test('a deactivation deletes the pending email-change token for good', async (t) => {
      const user = await store.users.create(newUser())
      const change = mailed(user, { purpose: 'email_change', email: 'c@new.test' })
      await store.accountTokens.create(change)
      await store.users.setActive(user.id, true)
      t.ok(await store.accountTokens.byId(change.id), 'an activation keeps it')
      await store.users.setActive(user.id, false)
      await store.users.setActive(user.id, true)
      t.equal(await store.accountTokens.byId(change.id), undefined)
    })

    t.test('a new password and "log out everywhere" record the instant on the user (tokensValidAfter, ms), seen at once', async (t) => {
      const user = await store.users.create(newUser())
      t.equal((await store.users.byId(user.id))?.tokensValidAfter, 0, 'never, at first')
      await store.users.setPassword(user.id, 'new-hash', NOW + 1)
      t.equal((await store.users.byId(user.id))?.tokensValidAfter, (NOW + 1) * 1000, 'a password change: the start of its second by default')
      await store.users.recordLogin(user.id, new Date(), 'rehashed')
      t.equal((await store.users.byId(user.id))?.tokensValidAfter, (NOW + 1) * 1000, 'a login (even re-hashing) is no change')
      await store.refreshTokens.revokeUser(user.id, NOW + 2, 'logout_all', (NOW + 2) * 1000 + 7)
      t.equal((await store.users.byId(user.id))?.tokensValidAfter, (NOW + 2) * 1000 + 7, 'log out everywhere, to the millisecond')
      const reset = mailed((await store.users.byId(user.id))!)
      await store.accountTokens.create(reset)
      t.match(await store.accountTokens.resetPassword(reset.id, 'reset-hash', newToken(user.id), NOW + 3, accept), { tokensValidAfter: (NOW + 3) * 1000 }, 'a reset')
      t.equal((await store.users.byId(user.id))?.tokensValidAfter, (NOW + 3) * 1000)
    })
  })
}
