import t from 'tap'
import { decideRotation, isPurgeable, isRotatable, type PresentedToken, type RotationAsked } from '../../src/tokens/rotation.js'

/*
 * The rotation rules on their own, branch by branch. That each store applies
 * them (its SQL included) is proven by test/db/store.test.ts, against both.
 */

const NOW = 1_800_000_000
const live: PresentedToken = { userId: 'u1', familyId: 'f1', revokedAt: null, revokeReason: null, successorId: null, successorSealed: null }
/** Rotated `ago` seconds before NOW into s1, with the successor sealed (a grace window was on). */
const rotated = (ago: number, over: Partial<PresentedToken> = {}): PresentedToken =>
  ({ ...live, revokedAt: NOW - ago, revokeReason: 'rotated', successorId: 's1', successorSealed: 'sealed-s1', ...over })
const liveSuccessor = { familyId: 'f1', revokedAt: null }
const ask = (over: Partial<RotationAsked> = {}): RotationAsked => ({ userId: 'u1', nowSeconds: NOW, grace: { interval: 10 }, ...over })
const reuse = { kind: 'reuse', userId: 'u1', familyId: 'f1' }

t.test('a token that is not stored, or is another user\'s, is unknown', async (t) => {
  t.same(decideRotation(undefined, undefined, ask()), { kind: 'unknown' })
  t.same(decideRotation(live, undefined, ask({ userId: 'u2' })), { kind: 'unknown' }, 'live, but another user\'s')
  t.same(decideRotation(rotated(1), liveSuccessor, ask({ userId: 'u2' })), { kind: 'unknown' }, 'inside the grace window, but another user\'s')
})

t.test('a live token of the user rotates (isRotatable)', async (t) => {
  t.same(decideRotation(live, undefined, ask()), { kind: 'rotate' })
  t.same(decideRotation(live, undefined, ask({ grace: undefined })), { kind: 'rotate' }, 'with or without a grace window')
  t.ok(isRotatable(live, 'u1'))
  t.notOk(isRotatable(live, 'u2'), 'not another user\'s')
  t.notOk(isRotatable(rotated(1), 'u1'), 'not a revoked one')
})

t.test('a token rotated inside the grace window into a live successor replays that successor', async (t) => {
  t.same(decideRotation(rotated(0), liveSuccessor, ask()), { kind: 'replay', successorId: 's1', sealed: 'sealed-s1' }, 'at once')
  t.same(decideRotation(rotated(9), liveSuccessor, ask()), { kind: 'replay', successorId: 's1', sealed: 'sealed-s1' }, '9 s later, of 10')
})

t.test('otherwise a revoked token is reuse: its family is revoked', async (t) => {
  const cases: Array<[string, PresentedToken, { familyId: string, revokedAt: number | null } | undefined, RotationAsked]> = [
    ['no grace window asked', rotated(1), liveSuccessor, ask({ grace: undefined })],
    ['a grace window of 0 s', rotated(0), liveSuccessor, ask({ grace: { interval: 0 } })],
    ['rotated exactly the window ago', rotated(10), liveSuccessor, ask()],
    ['rotated longer ago', rotated(11), liveSuccessor, ask()],
    ['revoked by a logout, not rotated', rotated(1, { revokeReason: 'logout' }), liveSuccessor, ask()],
    ['revoked by logout everywhere', rotated(1, { revokeReason: 'logout_all' }), liveSuccessor, ask()],
    ['revoked by a password change', rotated(1, { revokeReason: 'password_change' }), liveSuccessor, ask()],
    ['revoked with its family as reuse', rotated(1, { revokeReason: 'reuse' }), liveSuccessor, ask()],
    ['rotated without a successor recorded', rotated(1, { successorId: null }), liveSuccessor, ask()],
    ['rotated while no grace window was on (nothing sealed)', rotated(1, { successorSealed: null }), liveSuccessor, ask()],
    ['its successor is gone (purged, or its user removed)', rotated(1), undefined, ask()],
    ['its successor was revoked (the chain moved on, or a logout)', rotated(1), { familyId: 'f1', revokedAt: NOW }, ask()],
    ['its successor is of another family', rotated(1), { familyId: 'f2', revokedAt: null }, ask()]
  ]
  for (const [why, token, successor, asked] of cases) t.same(decideRotation(token, successor, asked), reuse, why)
})

t.test('a purge deletes expired rows, revoked or not, and keeps the others: reuse stays recognisable until expiry', async (t) => {
  t.ok(isPurgeable({ expiresAt: NOW - 1 }, NOW), 'expired a second ago')
  t.notOk(isPurgeable({ expiresAt: NOW }, NOW), 'expiring this second: kept')
  t.notOk(isPurgeable({ expiresAt: NOW + 1 }, NOW), 'not expired')
  const revoked = { ...rotated(100), expiresAt: NOW + 1 }
  t.notOk(isPurgeable(revoked, NOW), 'a revoked token that has not expired is kept…')
  t.same(decideRotation(revoked, undefined, ask()), reuse, '…so that presenting it again is reuse, not unknown')
})
