// The SQLite rotation writer's thread (src/db/sqlite/rotations.ts starts it).
//
// The columns are those of refreshTokens in src/db/sqlite/schema.ts; what a
// rotation does is decided by src/tokens/rotation.ts, as in the PostgreSQL
// store.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { decideRotation, type PresentedToken, type SuccessorToken } from '../../tokens/rotation.js'
import type { RotateOutcome, RotationRequest } from '../store.js'
import { fileGuard } from './file-guard.js'

const { path, synchronous, busyTimeout, cacheSize, dev, ino } = workerData as { path: string, synchronous: string, busyTimeout: number, cacheSize: number, dev: number, ino: number }
if (parentPort === null) throw new Error('the SQLite rotation worker runs as a worker thread')
const port = parentPort

const db = new Database(path, { timeout: busyTimeout, fileMustExist: true })
db.pragma('synchronous = ' + synchronous)
db.pragma('foreign_keys = ON')
db.pragma(`cache_size = ${cacheSize}`)
// SQLite opens a file it may not write read-only, without a word: a worker
// started while the file was unwritable would stay so after it recovers.
// Writing the header's user_version (to its own value) fails instead, and so
// does this worker; the next rotation starts another.
db.pragma('user_version = ' + Number(db.pragma('user_version', { simple: true })))

// isRotatable (src/tokens/rotation.ts) in SQL: a live token rotates in one statement.
const markRotated = db.prepare<Record<string, unknown>, string>("UPDATE refresh_tokens SET revoked_at = @nowSeconds, revoke_reason = 'rotated', successor_id = @successorId, successor_sealed = @sealed " +
  'WHERE id = @id AND user_id = @userId AND revoked_at IS NULL RETURNING family_id').pluck()
const insert = db.prepare('INSERT INTO refresh_tokens (id, user_id, family_id, expires_at, created_at) VALUES (@id, @userId, @familyId, @expiresAt, @createdAt)')
/** The presented token and the token it was rotated into, in one statement. */
const withSuccessor = db.prepare<[string], PresentedToken & { successorFamilyId: string | null, successorRevokedAt: number | null }>(
  'SELECT t.user_id AS userId, t.family_id AS familyId, t.revoked_at AS revokedAt, t.revoke_reason AS revokeReason, ' +
  't.successor_id AS successorId, t.successor_sealed AS successorSealed, ' +
  's.family_id AS successorFamilyId, s.revoked_at AS successorRevokedAt ' +
  'FROM refresh_tokens t LEFT JOIN refresh_tokens s ON s.id = t.successor_id WHERE t.id = ?')
const revokeFamily = db.prepare("UPDATE refresh_tokens SET revoked_at = @nowSeconds, revoke_reason = 'reuse' WHERE user_id = @userId AND family_id = @familyId AND revoked_at IS NULL")
// The family's session (src/db/sqlite/sessions.ts), by its primary key: used
// now, alive as long as the successor, its access tokens until the latest
// one's expiry. A family without a session row (started before sessions
// existed) matches nothing.
const touchSession = db.prepare('UPDATE sessions SET last_used_at = @nowSeconds, expires_at = @expiresAt, access_expires_at = max(access_expires_at, @accessExpiresAt) WHERE id = @familyId')
// Reuse ends the session: its trigger tells every instance's denylist.
const endSession = db.prepare('UPDATE sessions SET ended_at = @nowSeconds WHERE id = @familyId AND user_id = @userId AND ended_at IS NULL')

const rotate = db.transaction(({ id, next, nowSeconds, grace }: RotationRequest): RotateOutcome => {
  const familyId = markRotated.get({ id, userId: next.userId, nowSeconds, successorId: next.id, sealed: grace === undefined ? null : grace.sealed })
  if (familyId !== undefined) {
    insert.run({ id: next.id, userId: next.userId, familyId, expiresAt: next.expiresAt, createdAt: next.createdAt })
    touchSession.run({ familyId, nowSeconds, expiresAt: next.expiresAt, accessExpiresAt: next.accessExpiresAt ?? 0 })
    return { kind: 'rotated' }
  }
  const row = withSuccessor.get(id)
  // family_id is never null in a stored row: null here means no successor row.
  const successor: SuccessorToken | undefined = row?.successorFamilyId == null ? undefined : { familyId: row.successorFamilyId, revokedAt: row.successorRevokedAt }
  const decision = decideRotation(row, successor, { userId: next.userId, nowSeconds, grace })
  switch (decision.kind) {
    case 'replay': return { kind: 'replayed', successorId: decision.successorId, sealed: decision.sealed }
    case 'reuse':
      revokeFamily.run({ userId: decision.userId, familyId: decision.familyId, nowSeconds })
      endSession.run({ userId: decision.userId, familyId: decision.familyId, nowSeconds })
      return { kind: 'reused' }
    case 'unknown': return { kind: 'unknown' }
    case 'rotate': throw new Error('a live token that the rotation\'s UPDATE did not match')
  }
})

const fault = (err: unknown): { message: string, code: string | undefined } => {
  const e = err as { message?: unknown, code?: unknown } | undefined
  return { message: String(e?.message), code: typeof e?.code === 'string' ? e.code : undefined }
}

// Each rotation in a savepoint of its own: one failing fails alone.
const batch = db.transaction((requests: RotationRequest[]) => requests.map((request) => {
  try { return { outcome: rotate(request) } } catch (err) { return { error: fault(err) } }
}))

// As the event loop's connection: never a write into a file that was removed
// or replaced under the service.
const { check: assertSameFile } = fileGuard(path, { dev, ino })

port.on('message', (message: string) => {
  if (message === 'close') {
    db.close()
    port.close()
    return
  }
  try {
    assertSameFile()
    const results = batch.immediate(JSON.parse(message))
    assertSameFile()
    port.postMessage(JSON.stringify({ results }))
  } catch (err) {
    port.postMessage(JSON.stringify({ error: fault(err) }))
  }
})
