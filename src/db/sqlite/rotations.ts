import type { Worker } from 'node:worker_threads'
import { startWorker } from '../../paths.js'
import type { RotateOutcome, RotationRequest } from '../store.js'
import { PAGE_CACHE_KIB } from './connection.js'

/*
 * SQLite refresh rotations, written by a thread of their own.
 *
 * A rotation is the one write on a hot path: every refresh revokes the
 * presented token and stores its successor, and with SQLITE_SYNCHRONOUS=full
 * its commit waits for an fsync, plus a WAL checkpoint now and then. Written by
 * the event loop's own connection, that was a large share of a refresh's
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

type Result = { outcome: RotateOutcome } | { error: Fault }
interface Fault { message: string, code?: string }
type Reply = { results: Result[] } | { error: Fault }

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
    const w = startWorker('db/sqlite/rotation-worker', { workerData: { path, synchronous, busyTimeout, cacheSize: PAGE_CACHE_KIB, ...file } })
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
