import { Worker } from 'node:worker_threads'
import type { RotateGrace, RotateOutcome, RotationSuccessor } from './store.js'

/*
 * SQLite refresh rotations, written by a thread of their own.
 *
 * A rotation is the one write on a hot path: every refresh revokes the
 * presented token and stores its successor, and with SQLITE_SYNCHRONOUS=full
 * its commit waits for an fsync, plus a WAL checkpoint now and then. Written by
 * the event loop's own connection, that was about a third of a refresh's
 * main-thread time (docs/benchmarks.md). Here a worker thread holds a second
 * connection to the same file and does all of it: the event loop only posts
 * the requests and resolves the answers.
 *
 * Group commit: while the worker writes one batch, the rotations asked for
 * meanwhile wait, and go together as the next batch: one transaction, one
 * fsync, each rotation in a savepoint of its own (one failing fails alone; the
 * second of two rotations of one token sees the first and takes the grace
 * path). A rotation is answered only once its batch has committed, so nothing
 * acknowledged is lost. A lone rotation waits for the end of its turn of the
 * event loop (setImmediate), and goes with the others of that turn.
 *
 * The worker is started at the first rotation and does not keep the process
 * alive while idle. If it dies, the rotations it held fail (503) and the next
 * one starts a new worker.
 */

/** better-sqlite3 by URL: the worker loads it the same way under tsx and from dist/. */
const BETTER_SQLITE3 = import.meta.resolve('better-sqlite3')

export interface RotationRequest { id: string, next: RotationSuccessor, now: number, grace: RotateGrace | undefined }

type Result = { outcome: RotateOutcome } | { error: Fault }
interface Fault { message: string, code?: string }
type Reply = { results: Result[] } | { error: Fault }

// Evaluated in the worker (as a script or a module, whichever the parent's
// flags make it): only dynamic import(). The columns are those of
// refreshTokens in src/db/schema.ts. The logic is that of Store.refreshTokens.rotate
// (src/db/store.ts), as the PostgreSQL store also implements it.
const WORKER_SOURCE = `
Promise.all([import('node:worker_threads'), import('node:fs'), import(${JSON.stringify(BETTER_SQLITE3)})])
  .then(([{ parentPort, workerData }, { statSync }, { default: Database }]) => {
    const { path, synchronous, busyTimeout, dev, ino } = workerData
    const db = new Database(path, { timeout: busyTimeout, fileMustExist: true })
    db.pragma('synchronous = ' + synchronous)
    db.pragma('foreign_keys = ON')
    // SQLite opens a file it may not write read-only, without a word: a worker
    // started while the file was unwritable would stay so after it recovers.
    // Writing the header's user_version (to its own value) fails instead, and
    // so does this worker; the next rotation starts another.
    db.pragma('user_version = ' + Number(db.pragma('user_version', { simple: true })))
    const markRotated = db.prepare("UPDATE refresh_tokens SET revoked_at = @now, revoke_reason = 'rotated', successor_id = @successorId, successor_sealed = @sealed " +
      'WHERE id = @id AND user_id = @userId AND revoked_at IS NULL RETURNING family_id').pluck()
    const insert = db.prepare('INSERT INTO refresh_tokens (id, user_id, family_id, expires_at, created_at) VALUES (@id, @userId, @familyId, @expiresAt, @createdAt)')
    const byId = db.prepare('SELECT user_id, family_id, revoked_at, revoke_reason, successor_id, successor_sealed FROM refresh_tokens WHERE id = ?')
    const revokeFamily = db.prepare("UPDATE refresh_tokens SET revoked_at = @now, revoke_reason = 'reuse' WHERE user_id = @userId AND family_id = @familyId AND revoked_at IS NULL")

    const rotate = db.transaction(({ id, next, now, grace }) => {
      const familyId = markRotated.get({ id, userId: next.userId, now, successorId: next.id, sealed: grace ? grace.sealed : null })
      if (familyId !== undefined) {
        insert.run({ id: next.id, userId: next.userId, familyId, expiresAt: next.expiresAt, createdAt: next.createdAt })
        return { kind: 'rotated' }
      }
      const row = byId.get(id)
      if (row === undefined || row.user_id !== next.userId) return { kind: 'unknown' }
      if (grace && row.revoke_reason === 'rotated' && row.revoked_at !== null && now - row.revoked_at < grace.interval &&
          row.successor_id !== null && row.successor_sealed !== null) {
        const successor = byId.get(row.successor_id)
        if (successor !== undefined && successor.revoked_at === null && successor.family_id === row.family_id) {
          return { kind: 'replayed', successorId: row.successor_id, sealed: row.successor_sealed }
        }
      }
      revokeFamily.run({ userId: row.user_id, familyId: row.family_id, now })
      return { kind: 'reused' }
    })
    const fault = (err) => ({ message: String(err && err.message), code: err && typeof err.code === 'string' ? err.code : undefined })
    const batch = db.transaction((requests) => requests.map((request) => {
      try { return { outcome: rotate(request) } } catch (err) { return { error: fault(err) } }
    }))
    // As the event loop's connection (guardFile in src/db/sqlite.ts): never a
    // write into a file that was removed or replaced under the service.
    const assertSameFile = () => {
      let now
      try { now = statSync(path) } catch {}
      if (!now || now.dev !== dev || now.ino !== ino) {
        throw Object.assign(new Error('SQLite database ' + path + ' was removed or replaced while in use; restart the service'), { code: 'SQLITE_READONLY_DBMOVED' })
      }
    }
    parentPort.on('message', (message) => {
      if (message === 'close') {
        db.close()
        parentPort.close()
        return
      }
      try {
        assertSameFile()
        const results = batch.immediate(JSON.parse(message))
        assertSameFile()
        parentPort.postMessage(JSON.stringify({ results }))
      } catch (err) {
        parentPort.postMessage(JSON.stringify({ error: fault(err) }))
      }
    })
  })
`

interface Pending extends RotationRequest {
  resolve: (outcome: RotateOutcome) => void
  reject: (err: unknown) => void
}

function asError (fault: Fault): Error {
  return Object.assign(new Error(fault.message), fault.code === undefined ? {} : { code: fault.code })
}

export interface RotationWriterOptions {
  path: string
  synchronous: 'FULL' | 'NORMAL'
  busyTimeout: number
  /** The identity of the file the store opened (its guard refuses writes to another). */
  file: { dev: number, ino: number }
}

export function rotationWriter ({ path, synchronous, busyTimeout, file }: RotationWriterOptions) {
  let worker: Worker | undefined
  let waiting: Pending[] = []
  let inFlight: Pending[] | undefined
  let closing: Promise<void> | undefined
  /** Told when the batch being written has been answered and none follows. */
  let onIdle: (() => void) | undefined

  function settle (batch: Pending[], reply: Reply): void {
    if ('error' in reply) {
      for (const r of batch) r.reject(asError(reply.error))
      return
    }
    batch.forEach((r, i) => {
      const result = reply.results[i]
      if (result !== undefined && 'outcome' in result) r.resolve(result.outcome)
      else r.reject(asError(result?.error ?? { message: 'rotation not answered', code: 'SQLITE_IOERR' }))
    })
  }

  function start (): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { path, synchronous, busyTimeout, ...file } })
    w.on('message', (reply: string) => {
      const batch = inFlight ?? []
      inFlight = undefined
      settle(batch, JSON.parse(reply) as Reply)
      send()
      if (inFlight === undefined) {
        w.unref()
        onIdle?.()
      }
    })
    const stopped = (err?: Error): void => {
      if (worker !== w) return
      worker = undefined
      // A worker that died (or could not open the file) fails what it held; the next rotation starts another.
      const fault = { message: `SQLite rotation writer stopped${err === undefined ? '' : `: ${err.message}`}`, code: (err as { code?: string } | undefined)?.code ?? 'SQLITE_IOERR' }
      const lost = inFlight ?? []
      inFlight = undefined
      settle(lost, { error: fault })
      send()
      if (inFlight === undefined) onIdle?.()
    }
    w.on('error', stopped)
    w.on('exit', () => { stopped() })
    return w
  }

  function send (): void {
    if (inFlight !== undefined || waiting.length === 0) return
    worker ??= start()
    inFlight = waiting
    waiting = []
    worker.ref()
    // One string: cloning it costs less than cloning the objects it describes
    // (a request's resolve and reject are functions, which JSON leaves out).
    worker.postMessage(JSON.stringify(inFlight))
  }

  return {
    async rotate (request: RotationRequest): Promise<RotateOutcome> {
      if (closing !== undefined) throw Object.assign(new Error('The database connection is not open'), { code: 'SQLITE_MISUSE' })
      return await new Promise<RotateOutcome>((resolve, reject) => {
        // Sent after this turn of the event loop: its other rotations go along
        // (or sooner, with the answer to the batch in flight).
        if (waiting.push({ ...request, resolve, reject }) === 1) setImmediate(send)
      })
    },

    /** Writes the rotations already asked for, then stops the worker; later ones fail. */
    async close (): Promise<void> {
      closing ??= (async () => {
        send()
        if (inFlight !== undefined) await new Promise<void>((resolve) => { onIdle = resolve })
        const w = worker
        if (w === undefined) return
        worker = undefined
        const exited = new Promise<void>((resolve) => w.once('exit', () => { resolve() }))
        w.ref()
        w.postMessage('close')
        await exited
      })()
      await closing
    }
  }
}
