import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { tempDir } from '../helpers/app.js'

// `npm run bench:workers` in miniature (0.2 s per scenario, 2 connections), so
// that it cannot rot: both settings run, every answer is a 2xx, the table is
// printed. Speed is never asserted (docs/several-instances.md has the figures).
test('npm run bench:workers, smoke: WORKERS=1 and WORKERS=2 both run with only 2xx answers', async (t) => {
  const out = join(tempDir(t), 'workers.json')
  const run = spawnSync(process.execPath, [
    '--import', 'tsx', 'bench/workers.ts',
    '--duration', '0.2', '--warmup', '0', '--connections', '2', '--only', 'health,mypage,refresh', '--out', out
  ], { encoding: 'utf8', timeout: 110_000 })
  t.equal(run.status, 0, `bench:workers exits 0\n${run.stdout}\n${run.stderr}`)
  const results = JSON.parse(readFileSync(out, 'utf8')) as { rows: Array<{ workers: number, scenario: string, rps: number, non2xx: number, errors: number }> }
  t.same(results.rows.map((r) => `${r.workers} ${r.scenario}`), ['1 health', '1 mypage', '1 refresh', '2 health', '2 mypage', '2 refresh'])
  for (const r of results.rows) {
    t.ok(r.rps > 0, `WORKERS=${r.workers} ${r.scenario}: answers`)
    t.equal(r.non2xx + r.errors, 0, `WORKERS=${r.workers} ${r.scenario}: only 2xx`)
  }
  t.match(run.stdout, /\| refresh \| \d+ \| \d+ \| ×/, 'the table is printed')
})
