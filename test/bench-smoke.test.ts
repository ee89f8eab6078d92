import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { tempDir } from './helper.js'

// The benchmark (npm run bench) in miniature, so that it cannot rot: a stateless
// scenario and one that keeps per-connection state (each connection follows its
// own refresh-token rotation chain), half a second each against the built
// service. Only that it ran and every answer was a 2xx is checked; speed is
// never asserted here (BENCHMARKS.md holds the measured figures).
test('npm run bench, 2-second smoke: mypage and refresh run with no non-2xx answer', async (t) => {
  const out = join(tempDir(t), 'results.json')
  const run = spawnSync(process.execPath, [
    '--import', 'tsx', 'bench/run.ts',
    '--duration', '0.5', '--rounds', '1', '--warmup', '0', '--connections', '4',
    '--only', 'mypage,refresh', '--out', out
  ], { encoding: 'utf8', timeout: 110_000 })
  t.equal(run.status, 0, `bench exits 0\n${run.stdout}\n${run.stderr}`)

  const results = JSON.parse(readFileSync(out, 'utf8')) as {
    scenarios: Array<{ name: string, responses: number, non2xx: number, errors: number, timeouts: number, statusCodes: Record<string, number> }>
  }
  t.same(results.scenarios.map((s) => s.name), ['mypage', 'refresh'])
  for (const s of results.scenarios) {
    t.ok(s.responses > 0, `${s.name}: answers were received`)
    t.equal(s.non2xx, 0, `${s.name}: no non-2xx answer (${JSON.stringify(s.statusCodes)})`)
    t.equal(s.errors + s.timeouts, 0, `${s.name}: no connection errors or timeouts`)
    t.same(Object.keys(s.statusCodes), ['200'], `${s.name}: every answer is a 200`)
  }
  t.match(run.stdout, /\| mypage\s+\|/, 'the table is printed')
})
