// @ts-check
// The bcrypt verifier's thread (src/passwords/bcrypt.ts starts it). Plain
// JavaScript, run by Node as it is from src/ and from dist/ (tsc copies it,
// allowJs): no TypeScript loader in the worker.
import { parentPort } from 'node:worker_threads'
import bcrypt from 'bcryptjs'

if (parentPort === null) throw new Error('bcrypt-worker.mjs runs as a worker thread')
const port = parentPort

port.on('message', (/** @type {{ id: number, password: string, hash: string }} */ { id, password, hash }) => {
  let ok = false
  try { ok = bcrypt.compareSync(password, hash) } catch {}
  port.postMessage({ id, ok })
})
