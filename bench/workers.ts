/**
 * `npm run bench:workers`: what WORKERS=2 gains over one process, on this machine.
 *
 *   npm run bench:workers -- [--duration 6] [--warmup 2] [--connections 50]
 *                            [--only health,mypage,refresh,login,mixed]
 *                            [--database postgres://…] [--redis redis://127.0.0.1:6379]
 *                            [--out bench/workers-results.json]
 *
 * Starts the built service (`node dist/src/server.js`, built if stale) twice on
 * a fresh database each: WORKERS=1, then WORKERS=2. Both share their rate
 * limits through Redis (a key prefix of the run's own, deleted afterwards), so
 * the workers are the only difference. Each scenario of bench/lib/scenarios.ts
 * named in --only runs once per setting for --duration seconds after a warm-up.
 * Kept apart from bench/run.ts (the single-process benchmark) on purpose.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { join as joinUser, mapLimit } from './lib/api.js'
import { scenarios, type Context, type Measured } from './lib/scenarios.js'
import { parseOptions, usageChecks } from './lib/options.js'
import { ensureBuilt, startService } from './lib/service.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

const USAGE = 'usage: npm run bench:workers -- [--duration S] [--warmup S] [--connections N] [--only a,b] [--database URL] [--redis URL] [--out FILE]'

const args = parseOptions('bench:workers', USAGE, {
  duration: { type: 'string', default: '6' },
  warmup: { type: 'string', default: '2' },
  connections: { type: 'string', default: '50' },
  only: { type: 'string', default: 'health,mypage,refresh,login,mixed' },
  database: { type: 'string' },
  redis: { type: 'string', default: 'redis://127.0.0.1:6379/0' },
  out: { type: 'string', default: join(root, 'bench', 'workers-results.json') },
  help: { type: 'boolean', default: false }
})
if (args.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const check = usageChecks('bench:workers', USAGE)
const duration = check.number('duration', args.duration)
const warmup = check.number('warmup', args.warmup)
const connections = check.number('connections', args.connections, { whole: true })
const only = args.only.split(',').map((s) => s.trim()).filter((s) => s !== '')
const chosen = only.map((name) => {
  const s = scenarios.find((x) => x.name === name)
  return s?.round === undefined
    ? check.fail(`--only: "${name}" is not a scenario measured in rounds (${scenarios.filter((x) => x.round !== undefined).map((x) => x.name).join(', ')})`)
    : s
})

const log = (line: string): void => { process.stderr.write(`${line}\n`) }

interface Row { workers: number, scenario: string, rps: number, p50: number, p99: number, non2xx: number, errors: number }

async function runSetting (workers: number, runId: string, prefix: string): Promise<Row[]> {
  const env: Record<string, string> = {
    WORKERS: String(workers),
    REDIS_URL: args.redis,
    REDIS_KEY_PREFIX: prefix,
    RATE_LIMIT_LOGIN_MAX: '100000000',
    RATE_LIMIT_JOIN_MAX: '100000000',
    LOG_LEVEL: 'warn',
    COOKIE_SECURE: 'false',
    SERVE_CLIENT: 'false',
    JWT_SECRET: `bench-workers-${runId}-0123456789abcdef`,
    ...(args.database === undefined ? {} : { DATABASE_URL: args.database })
  }
  const service = await startService(root, env)
  try {
    const users = Array.from({ length: connections }, (_, i) => `w${workers}-u${i}-${runId}@bench.example.com`)
    await mapLimit(connections, 8, async (i) => await joinUser(service.origin, users[i] ?? ''))
    const ctx: Context = { origin: service.origin, connections, duration, rounds: 1, warmup, users, runId: `${runId}-w${workers}`, log }
    const rows: Row[] = []
    for (const s of chosen) {
      if (warmup > 0) await s.round!(ctx, warmup, false)
      const r: Measured = await s.round!(ctx, duration, true)
      rows.push({ workers, scenario: s.name, rps: r.rps, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts })
      log(`WORKERS=${workers} ${s.name}: ${r.rps.toFixed(0)} req/s, p99 ${r.latency.p99.toFixed(1)} ms`)
    }
    return rows
  } finally {
    await service.stop()
  }
}

async function main (): Promise<void> {
  ensureBuilt(root, log)
  const runId = randomBytes(4).toString('hex')
  const prefix = `auth-bench-workers:${runId}:`
  const rows: Row[] = []
  try {
    for (const workers of [1, 2]) rows.push(...await runSetting(workers, runId, prefix))
  } finally {
    const redis = new Redis(args.redis, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await redis.connect()
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
    } catch { /* Redis gone: nothing to clean */ } finally { redis.disconnect() }
  }

  const lines = ['| scenario | WORKERS=1 req/s | WORKERS=2 req/s | gain | p99 ms (1 → 2) | non-2xx |', '|---|---:|---:|---:|---:|---:|']
  for (const s of chosen) {
    const one = rows.find((r) => r.workers === 1 && r.scenario === s.name)
    const two = rows.find((r) => r.workers === 2 && r.scenario === s.name)
    if (one === undefined || two === undefined) continue
    lines.push(`| ${s.name} | ${one.rps.toFixed(0)} | ${two.rps.toFixed(0)} | ×${(two.rps / one.rps).toFixed(2)} | ${one.p99.toFixed(1)} → ${two.p99.toFixed(1)} | ${one.non2xx + two.non2xx} |`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
  mkdirSync(dirname(args.out), { recursive: true })
  writeFileSync(args.out, JSON.stringify({
    when: new Date().toISOString(),
    cores: availableParallelism(),
    database: args.database === undefined ? 'sqlite' : 'postgres',
    duration,
    connections,
    rows
  }, null, 2) + '\n')
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:workers failed: ${(err as Error).message}\n`)
  process.exit(1)
})
