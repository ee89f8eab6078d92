// The ceiling of login and join: how many password verifications per second
// this machine does with the service's own hasher and configured argon2
// parameters, through libuv's thread pool as the service runs them.
//
// Run by bench/run.ts in a child process with the service's environment (so the
// same ARGON2_* values and UV_THREADPOOL_SIZE apply):
//   node --import tsx bench/hash-bound.ts <seconds>   → one JSON line on stdout
import { loadConfig } from '../src/config.js'
import * as hashing from '../src/passwords/hash.js'

const seconds = Number(process.argv[2] ?? 3)
// Enough verifications in flight to keep the hasher busy, as 50 login
// connections do.
const inFlight = 32
const config = loadConfig({ ...process.env, JWT_SECRET: 'x'.repeat(32) })
const hasher = hashing.createPasswordHasher(config.argon2)
const password = 'bench-Horse-battery-9'
const stored = await hasher.hash(password)

let done = 0
let counting = false
let stop = false
async function loop () {
  while (!stop) {
    if (!await hasher.verify(stored, password)) throw new Error('verification failed')
    if (counting) done++
  }
}
const loops = Array.from({ length: inFlight }, loop)
// A short warm-up so that every pool thread has started and allocated.
await new Promise((resolve) => setTimeout(resolve, 500))
counting = true
const start = performance.now()
await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
counting = false
const elapsed = (performance.now() - start) / 1000
stop = true
await Promise.all(loops)

process.stdout.write(JSON.stringify({
  hashesPerSecond: done / elapsed,
  seconds: elapsed,
  argon2: config.argon2,
  threadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (libuv default)',
  // The service runs at most this many argon2 computations at once (when it limits them).
  concurrency: hashing.defaultHashConcurrency?.() ?? null
}) + '\n')
