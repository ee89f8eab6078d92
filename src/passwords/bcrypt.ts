import type { Worker } from 'node:worker_threads'
import { startWorker } from '../paths.js'

/*
 * bcrypt for Django's `bcrypt_sha256$…` and `bcrypt$…` hashes. Neither
 * node:crypto nor OpenSSL offers bcrypt, and the native bindings come as
 * prebuilt binaries; bcryptjs is plain JavaScript, so it runs in a worker
 * thread of its own: the event loop never computes a bcrypt. One worker,
 * started at the first bcrypt verification (only users imported with a bcrypt
 * hash, at their first login), keeping the process alive only while it works.
 */

let worker: Worker | undefined
let nextId = 0
const waiting = new Map<number, (ok: boolean) => void>()

function getWorker (): Worker {
  if (worker !== undefined) return worker
  const w = startWorker('passwords/bcrypt-worker')
  w.unref()
  w.on('message', ({ id, ok }: { id: number, ok: boolean }) => {
    waiting.get(id)?.(ok)
    waiting.delete(id)
    if (waiting.size === 0) w.unref()
  })
  const fail = (): void => {
    // A crashed worker fails the verifications it held; the next one starts a new worker.
    for (const resolve of waiting.values()) resolve(false)
    waiting.clear()
    if (worker === w) worker = undefined
  }
  w.on('error', fail)
  w.on('exit', fail)
  worker = w
  return w
}

/**
 * The highest bcrypt cost verified: 2^16 rounds, 16 times Django's `rounds = 12`
 * (unchanged since Django 1.4); each step doubles the work, so a hostile cost of
 * 31 would take days.
 */
export const MAX_BCRYPT_COST = 16

/** bcrypt's own check of `password` against a `$2a$`/`$2b$`/`$2y$` hash, in the worker thread. */
export async function bcryptVerify (password: string, hash: string): Promise<boolean> {
  if (!/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return false
  const rounds = Number(hash.slice(4, 6))
  if (rounds < 4 || rounds > MAX_BCRYPT_COST) return false
  return await new Promise<boolean>((resolve) => {
    const id = nextId++
    waiting.set(id, resolve)
    const w = getWorker()
    w.ref()
    w.postMessage({ id, password, hash })
  })
}
