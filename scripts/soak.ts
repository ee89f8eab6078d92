/**
 * Soak run: `npm run soak` (3 minutes), or `npx tsx scripts/soak.ts [seconds] [concurrency]`
 * (or SOAK_SECONDS / SOAK_CONCURRENCY / SOAK_SEED). Starts the real server on a
 * temp data directory, drives a mixed load from 127.0.0.1 and prints throughput,
 * errors and RSS per interval. Exits 1 on any error or if RSS does not level off.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { envNumber } from '../test/helpers/http.js'
import { runSoak } from '../test/helpers/soak.js'

const seconds = Number(process.argv[2] ?? envNumber('SOAK_SECONDS', 180))
const concurrency = Number(process.argv[3] ?? envNumber('SOAK_CONCURRENCY', 16))
const seed = envNumber('SOAK_SEED', 1)
const dataDir = mkdtempSync(join(tmpdir(), 'auth-soak-'))
console.log(`soak: ${seconds} s, ${concurrency} virtual users, seed ${seed}, 127.0.0.1 only`)
const report = await runSoak({
  dataDir,
  durationMs: seconds * 1000,
  concurrency,
  intervalMs: seconds >= 60 ? 5000 : 1000,
  seed,
  log: (line) => console.log(line)
})
rmSync(dataDir, { recursive: true, force: true })
console.log(`requests: ${report.requests} in ${report.seconds.toFixed(1)} s = ${report.throughput} req/s; per operation ${JSON.stringify(report.perOp)}`)
console.log(`errors: ${report.errors}${report.errorSamples.length > 0 ? `\n  ${report.errorSamples.join('\n  ')}` : ''}`)
console.log(`RSS MiB: start ${report.rss.startMiB}, peak ${report.rss.peakMiB}, end ${report.rss.endMiB}; median 2nd quarter ${report.rss.secondQuarterMedianMiB}, last quarter ${report.rss.lastQuarterMedianMiB} → ${report.levelledOff ? 'levelled off' : 'STILL GROWING'}`)
console.log(`server exit code after SIGTERM: ${String(report.exitCode)}`)
const ok = report.errors === 0 && report.levelledOff && report.exitCode === 0
console.log(ok ? 'PASS' : 'FAIL')
process.exit(ok ? 0 : 1)
