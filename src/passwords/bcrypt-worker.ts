// The bcrypt verifier's thread (src/passwords/bcrypt.ts starts it).
import { parentPort } from 'node:worker_threads'
import bcrypt from 'bcryptjs'

if (parentPort === null) throw new Error('bcrypt-worker runs as a worker thread')
const port = parentPort

port.on('message', ({ id, password, hash }: { id: number, password: string, hash: string }) => {
  let ok = false
  try { ok = bcrypt.compareSync(password, hash) } catch {}
  port.postMessage({ id, ok })
})
