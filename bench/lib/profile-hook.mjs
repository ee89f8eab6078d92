// Preloaded into the service by `npm run bench -- --profile DIR` (node --import),
// never by the service itself: SIGWINCH (ignored by default, and not one of the
// signals close-with-grace shuts down on) starts the V8 CPU profiler, the next
// SIGWINCH stops it and writes DIR/profile-<n>.cpuprofile. The bench signals
// around each measured run, so a profile holds that run only (no startup,
// user creation or warm-up).
import { writeFileSync, renameSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

const dir = process.env.BENCH_PROFILE_DIR ?? '.'
/** @type {Session | undefined} */
let session
let n = 0

process.on('SIGWINCH', () => {
  void (async () => {
    if (session === undefined) {
      session = new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.start')
    } else {
      const current = session
      session = undefined
      const { profile } = await current.post('Profiler.stop')
      current.disconnect()
      const file = join(dir, `profile-${n++}.cpuprofile`)
      // Written whole, then renamed: the bench waits for the final name.
      writeFileSync(file + '.tmp', JSON.stringify(profile))
      renameSync(file + '.tmp', file)
    }
  })()
})
