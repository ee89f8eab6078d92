/**
 * Crash-safety run: `npx tsx scripts/crash-test.ts [rounds] [seed]`
 * (or CRASH_ROUNDS / CRASH_SEED / CRASH_CONCURRENCY / SQLITE_SYNCHRONOUS).
 * Starts the real server, SIGKILLs it under load at seeded random moments,
 * restarts on the same data directory and checks that nothing acknowledged
 * was lost (see test/helpers/crash.ts). Exits 1 on any failure.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCrashTest } from '../test/helpers/crash.js'
import { envNumber } from '../test/helpers/http.js'

const rounds = Number(process.argv[2] ?? envNumber('CRASH_ROUNDS', 10))
const seed = Number(process.argv[3] ?? envNumber('CRASH_SEED', Math.floor(Math.random() * 2 ** 31)))
const dataDir = mkdtempSync(join(tmpdir(), 'auth-crash-'))
console.log(`crash test: ${rounds} rounds, seed ${seed}, data in ${dataDir}`)
const started = Date.now()
const report = await runCrashTest({
  dataDir,
  rounds,
  seed,
  concurrency: envNumber('CRASH_CONCURRENCY', 8),
  minOpsBeforeKill: envNumber('CRASH_MIN_OPS', 30),
  maxKillDelayMs: envNumber('CRASH_MAX_DELAY_MS', 2000),
  synchronous: process.env.SQLITE_SYNCHRONOUS === 'normal' ? 'normal' : 'full',
  log: (line) => console.log(line)
})
const totals: Record<string, number> = {}
for (const r of report.rounds) {
  for (const [k, v] of Object.entries(r.acknowledged)) totals[k] = (totals[k] ?? 0) + v
  for (const [k, v] of Object.entries(r.checked)) totals[`checked ${k}`] = (totals[`checked ${k}`] ?? 0) + v
  totals['in flight at kill'] = (totals['in flight at kill'] ?? 0) + r.inFlightAtKill
}
console.log(`totals: ${JSON.stringify(totals)}`)
console.log(`${report.failures.length === 0 ? 'PASS' : 'FAIL'}: ${rounds} rounds, seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s`)
for (const f of report.failures) console.log(`  ${f}`)
if (report.failures.length === 0) rmSync(dataDir, { recursive: true, force: true })
else console.log(`data directory kept: ${dataDir}`)
process.exit(report.failures.length === 0 ? 0 : 1)
