// The SQLite rotation writer's thread (src/db/sqlite/rotations.ts starts it).
//
// The columns are those of refreshTokens in src/db/sqlite/schema.ts. The logic is that
// of Store.refreshTokens.rotate (src/db/store.ts), as the PostgreSQL store also
// implements it.
import { statSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

const { path, synchronous, busyTimeout, dev, ino } = workerData as { path: string, synchronous: string, busyTimeout: number, dev: number, ino: number }
if (parentPort === null) throw new Error('the SQLite rotation worker runs as a worker thread')
const port = parentPort

const db = new Database(path, { timeout: busyTimeout, fileMustExist: true })
db.pragma('synchronous = ' + synchronous)
db.pragma('foreign_keys = ON')
// SQLite opens a file it may not write read-only, without a word: a worker
// started while the file was unwritable would stay so after it recovers.
// Writing the header's user_version (to its own value) fails instead, and so
// does this worker; the next rotation starts another.
db.pragma('user_version = ' + Number(db.pragma('user_version', { simple: true })))

const markRotated = db.prepare<Record<string, unknown>, string>("UPDATE refresh_tokens SET revoked_at = @nowSeconds, revoke_reason = 'rotated', successor_id = @successorId, successor_sealed = @sealed " +
  'WHERE id = @id AND user_id = @userId AND revoked_at IS NULL RETURNING family_id').pluck()
const insert = db.prepare('INSERT INTO refresh_tokens (id, user_id, family_id, expires_at, created_at) VALUES (@id, @userId, @familyId, @expiresAt, @createdAt)')
const byId = db.prepare('SELECT user_id, family_id, revoked_at, revoke_reason, successor_id, successor_sealed FROM refresh_tokens WHERE id = ?')
const revokeFamily = db.prepare("UPDATE refresh_tokens SET revoked_at = @nowSeconds, revoke_reason = 'reuse' WHERE user_id = @userId AND family_id = @familyId AND revoked_at IS NULL")

interface Successor { id: string, userId: string, expiresAt: number, createdAt: number }
interface Request { id: string, next: Successor, nowSeconds: number, grace?: { interval: number, sealed: string } }
interface Row { user_id: string, family_id: string, revoked_at: number | null, revoke_reason: string | null, successor_id: string | null, successor_sealed: string | null }

const rotate = db.transaction(({ id, next, nowSeconds, grace }: Request) => {
  const familyId = markRotated.get({ id, userId: next.userId, nowSeconds, successorId: next.id, sealed: grace ? grace.sealed : null })
  if (familyId !== undefined) {
    insert.run({ id: next.id, userId: next.userId, familyId, expiresAt: next.expiresAt, createdAt: next.createdAt })
    return { kind: 'rotated' }
  }
  const row = byId.get(id) as Row | undefined
  if (row === undefined || row.user_id !== next.userId) return { kind: 'unknown' }
  if (grace && row.revoke_reason === 'rotated' && row.revoked_at !== null && nowSeconds - row.revoked_at < grace.interval &&
      row.successor_id !== null && row.successor_sealed !== null) {
    const successor = byId.get(row.successor_id) as Row | undefined
    if (successor !== undefined && successor.revoked_at === null && successor.family_id === row.family_id) {
      return { kind: 'replayed', successorId: row.successor_id, sealed: row.successor_sealed }
    }
  }
  revokeFamily.run({ userId: row.user_id, familyId: row.family_id, nowSeconds })
  return { kind: 'reused' }
})

const fault = (err: unknown): { message: string, code: string | undefined } => {
  const e = err as { message?: unknown, code?: unknown } | undefined
  return { message: String(e?.message), code: typeof e?.code === 'string' ? e.code : undefined }
}

// Each rotation in a savepoint of its own: one failing fails alone.
const batch = db.transaction((requests: Request[]) => requests.map((request) => {
  try { return { outcome: rotate(request) } } catch (err) { return { error: fault(err) } }
}))

// As the event loop's connection (src/db/sqlite/file-guard.ts): never a write
// into a file that was removed or replaced under the service.
const assertSameFile = () => {
  let current
  try { current = statSync(path) } catch {}
  if (!current || current.dev !== dev || current.ino !== ino) {
    throw Object.assign(new Error('SQLite database ' + path + ' was removed or replaced while in use; restart the service'), { code: 'SQLITE_READONLY_DBMOVED' })
  }
}

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
