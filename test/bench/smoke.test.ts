import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { tempDir } from '../helpers/app.js'

// The benchmark (npm run bench) in miniature, so that no part of it can rot:
// every scenario for 0.2 s at 4 connections against the built service (and a
// second one on this machine's PostgreSQL), 200 users for the working set,
// startup timed once. Only that each scenario ran, that every answer was a 2xx and that
// every figure was produced is checked; speed is never asserted here
// (docs/benchmarks.md holds the measured figures).

interface Results {
  startup?: { npmStartMs: number[], nodeMs: number[], nodeCpuMs: number[], bareMs: number[], bareCpuMs: number[] }
  fsyncMs?: { start: number, end: number }
  hashBound?: { hashesPerSecond: number, concurrency: number }
  finalRssMb?: number
  scenarios: Array<{ name: string, responses: number, non2xx: number, errors: number, timeouts: number, statusCodes: Record<string, number> }>
  targets: Array<{ target: string, value: number, limit: number, met: boolean }>
}

const HTTP_SCENARIOS = ['ceiling', 'health', 'mypage', 'mypage-cookie', 'verify', 'forward-auth', 'refresh', 'login', 'join', 'mixed',
  'mypage-under-login-storm', 'refresh-sync-normal', 'mypage-many-users', 'forward-auth-many-users', 'verify-many-users',
  'mypage-postgres', 'refresh-postgres']

test('npm run bench, smoke: every scenario runs with no non-2xx answer and every figure is produced', async (t) => {
  const out = join(tempDir(t), 'results.json')
  const run = spawnSync(process.execPath, [
    '--import', 'tsx', 'bench/run.ts',
    '--duration', '0.2', '--rounds', '1', '--warmup', '0', '--connections', '4', '--startup-runs', '1',
    '--users', '200', '--postgres', process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    '--out', out
  ], { encoding: 'utf8', timeout: 110_000 })
  t.equal(run.status, 0, `bench exits 0\n${run.stdout}\n${run.stderr}`)

  const results = JSON.parse(readFileSync(out, 'utf8')) as Results
  t.same(results.scenarios.map((s) => s.name).sort(), [...HTTP_SCENARIOS].sort(), 'every HTTP scenario ran')
  for (const s of results.scenarios) {
    t.ok(s.responses > 0, `${s.name}: answers were received`)
    t.equal(s.non2xx, 0, `${s.name}: no non-2xx answer (${JSON.stringify(s.statusCodes)})`)
    t.equal(s.errors + s.timeouts, 0, `${s.name}: no connection errors or timeouts`)
    t.same(Object.keys(s.statusCodes), [s.name === 'join' ? '201' : '200'], `${s.name}: every answer is a ${s.name === 'join' ? 201 : 200}`)
  }
  t.equal(results.startup?.npmStartMs.length, 1, 'npm start timed once')
  t.ok((results.startup?.npmStartMs[0] ?? 0) > 0 && (results.startup?.nodeMs[0] ?? 0) > 0, 'startup figures are times')
  t.ok((results.startup?.bareMs[0] ?? 0) > 0, 'the bare Fastify server\'s start was timed beside')
  t.ok((results.startup?.nodeCpuMs[0] ?? 0) > 0 && (results.startup?.bareCpuMs[0] ?? 0) > 0, 'and the CPU time of both starts read')
  t.ok((results.fsyncMs?.start ?? 0) > 0 && (results.fsyncMs?.end ?? 0) > 0, 'the disk\'s fsync time was probed')
  t.ok((results.hashBound?.hashesPerSecond ?? 0) > 0, 'the hash bound was measured')
  t.ok((results.finalRssMb ?? 0) > 0, 'the service\'s RSS was read')
  t.same(results.targets.map((x) => x.target), [
    'mypage req/s ÷ health req/s', 'mypage p99 ms', 'verify req/s ÷ health req/s', 'verify p99 ms',
    'refresh req/s ÷ health req/s', 'mypage req/s ÷ ceiling req/s', 'verify req/s ÷ ceiling req/s', 'refresh req/s ÷ ceiling req/s',
    'mypage with 200 users ÷ mypage with a user per connection', 'refresh on PostgreSQL ÷ refresh on SQLite',
    'login req/s ÷ hash bound', 'storm p99 ÷ idle p99',
    'RSS MB after the full bench', 'peak RSS MB over the full bench', 'node dist/src/server.js → 200 on /health ÷ bare Fastify (medians)'
  ], 'every target is evaluated')
  for (const x of results.targets) t.ok(Number.isFinite(x.value) && x.value > 0, `${x.target}: a figure (${x.value})`)
  t.match(run.stdout, /\| mypage-under-login-storm\s+\|/, 'the table is printed')
  t.match(run.stdout, /\| scenario\s+\|.*\| × ceiling \| × health \|/, 'every scenario is read against the ceiling and the service\'s /health')
  t.match(run.stdout, /^working set: mypage \d+ req\/s with a user per connection, \d+ req\/s with 200 users \(× [\d.]+\)$/m, 'the working set is compared')
  t.match(run.stdout, /^PostgreSQL: refresh \d+ req\/s, [\d.]+ × SQLite's \d+$/m, 'PostgreSQL is compared')
  t.match(run.stdout, /^ceiling \(bare Fastify 5 \/health, no plugins, no logging\): \d+ req\/s; the service's \/health reaches [\d.]+ of it/m, 'the ceiling is reported')

  // --only a scenario still measures the ceiling beside it.
  const only = join(tempDir(t), 'only.json')
  const small = spawnSync(process.execPath, [
    '--import', 'tsx', 'bench/run.ts', '--only', 'forward-auth',
    '--duration', '0.2', '--rounds', '1', '--warmup', '0', '--connections', '2', '--out', only
  ], { encoding: 'utf8', timeout: 60_000 })
  t.equal(small.status, 0, `bench --only exits 0\n${small.stdout}\n${small.stderr}`)
  const onlyResults = JSON.parse(readFileSync(only, 'utf8')) as Results
  t.same(onlyResults.scenarios.map((s) => s.name), ['ceiling', 'forward-auth'], 'the ceiling ran beside the one scenario asked for')
})
