import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { tempDir } from '../helpers/app.js'
import { runCrashTest } from '../helpers/crash.js'
import { envNumber } from '../helpers/http.js'

// Short settings for CI; `npx tsx scripts/crash-test.ts 20` for a longer run.
const SEED = envNumber('CRASH_SEED', 20261122)
const ROUNDS = envNumber('CRASH_ROUNDS', 3)

t.test(`SIGKILL under load loses nothing acknowledged (${ROUNDS} rounds, seed ${SEED})`, async (t) => {
  const report = await runCrashTest({
    dataDir: join(tempDir(t), 'data'),
    rounds: ROUNDS,
    seed: SEED,
    concurrency: 6,
    minOpsBeforeKill: 20,
    maxKillDelayMs: 800,
    log: (line) => t.comment(line)
  })
  t.same(report.failures, [], `no failures (replay with CRASH_SEED=${SEED})`)
  const sum = (f: (r: typeof report.rounds[number]) => number): number => report.rounds.reduce((n, r) => n + f(r), 0)
  // Not vacuous: the kills cut requests, and every kind of promise was re-checked.
  t.ok(sum((r) => r.inFlightAtKill) > 0, 'requests were in flight at the kills')
  t.ok(sum((r) => r.checked.logins) > 0, 'acknowledged joins logged in after a crash')
  t.ok(sum((r) => r.checked.revokedTokens) > 0, 'revoked tokens re-checked after a crash')
  t.ok(sum((r) => r.checked.liveTokens) > 0, 'live tokens re-checked after a crash')
  t.ok(sum((r) => r.acknowledged.reuse ?? 0) > 0, 'reuse detection exercised')
  t.ok(sum((r) => r.acknowledged.logout ?? 0) > 0, 'logouts exercised')
})

t.test('the crash checker notices lost joins and resurrected tokens', async (t) => {
  // Between the kill and the restart, damage the database the way a broken
  // durability setting or a non-atomic write would: a user vanishes and every
  // revoked token becomes live again. The checks must say so.
  const report = await runCrashTest({
    dataDir: join(tempDir(t), 'data'),
    rounds: 1,
    seed: SEED,
    concurrency: 4,
    minOpsBeforeKill: 20,
    maxKillDelayMs: 0,
    afterKill: (dbPath) => {
      const db = new Database(dbPath)
      db.pragma('foreign_keys = ON')
      db.prepare('DELETE FROM users WHERE rowid = (SELECT min(rowid) FROM users)').run()
      db.prepare('UPDATE refresh_tokens SET revoked_at = NULL').run()
      db.close()
    }
  })
  t.match(report.failures.join('\n'), /acknowledged join .* is missing from the database/)
  t.match(report.failures.join('\n'), /is live again in the database/)
  t.match(report.failures.join('\n'), /revoked \(.*\) token: verify 200/)
})
