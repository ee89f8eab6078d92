import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/app.js'
import { envNumber } from '../helpers/http.js'
import { runSoak } from '../helpers/soak.js'

// The short CI version of `npm run soak`: SOAK_SECONDS (default 10) of mixed load.
const SECONDS = envNumber('SOAK_SECONDS', 10)

t.test(`soak: ${SECONDS} s of mixed load, zero errors, RSS levels off`, async (t) => {
  const report = await runSoak({
    dataDir: join(tempDir(t), 'data'),
    durationMs: SECONDS * 1000,
    concurrency: 8,
    intervalMs: 1000,
    seed: envNumber('SOAK_SEED', 1),
    log: (line) => t.comment(line)
  })
  t.comment(`${report.requests} requests, ${report.throughput} req/s, per operation ${JSON.stringify(report.perOp)}; RSS ${JSON.stringify(report.rss)}`)
  t.equal(report.errors, 0, `no errors${report.errorSamples.length > 0 ? `: ${report.errorSamples.join('; ')}` : ''}`)
  for (const op of ['join', 'login', 'refresh', 'mypage', 'logout']) t.ok((report.perOp[op] ?? 0) > 0, `${op} was exercised`)
  t.ok(report.samples.length >= 4, 'RSS was sampled')
  t.ok(report.levelledOff, `RSS levels off (median ${report.rss.secondQuarterMedianMiB} → ${report.rss.lastQuarterMedianMiB} MiB)`)
  t.equal(report.exitCode, 0, 'clean exit on SIGTERM after the load')
})
