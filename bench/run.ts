/**
 * `npm run bench`: a reproducible benchmark of the service (see docs/benchmarks.md).
 *
 *   npm run bench -- [--duration 8] [--warmup 2] [--connections 50] [--users 50000]
 *                    [--only health,mypage,…] [--target http://host:port]
 *                    [--out bench/results.json] [--server-log FILE]
 *
 * Without --target it builds dist/ if stale, starts `node dist/src/server.js` on
 * a free loopback port with a fresh temp database and raised login/join rate
 * limits, creates one user per connection, then runs each scenario with
 * autocannon for a fixed time and connection count. With --target it runs the
 * same scenarios against an already running instance of the API (which must
 * allow that many logins: raise its rate limits).
 */
import { execFileSync, spawn } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { cpus, freemem, totalmem, release, platform, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { parseOptions, usageChecks } from './lib/options.js'
import { join as joinUser, mapLimit } from './lib/api.js'
import { mergeMeasured, refreshScenario, scenarios, type Context, type Measured } from './lib/scenarios.js'
import { ensureBuilt, measureStartup, serviceEnv, startService, type Service } from './lib/service.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

const USAGE = `usage: npm run bench -- [--duration S] [--rounds N] [--warmup S] [--connections N] [--only a,b,…]
                       [--users N] [--postgres URL] [--target URL] [--out FILE] [--server-log FILE] [--profile DIR] [--startup-runs N]
--duration S: seconds measured per scenario, cut into --rounds N (3) interleaved with the other
               scenarios' rounds (health, mypage, …, health, mypage, …) so that the machine's drift
               hits all alike; --warmup S (2) of unmeasured load per scenario first
--users N: the working-set scenarios (*-many-users) seed N users (50000) and issue a token for each
               (npm run cli -- seed --tokens), then send the next user's token with every request
--postgres URL: also runs mypage and refresh on a second service on PostgreSQL (mypage-postgres,
               refresh-postgres), in a fresh database made on the server URL names and dropped after
               (e.g. postgres://postgres@127.0.0.1:5432/postgres)
--node-flags "STR": node flags for the service, after npm start's own (V8 takes the last
               of a repeated flag), e.g. --node-flags=--max-semi-space-size=16
--profile DIR: CPU-profile the service during each measured run (not start-up, set-up or warm-up):
               DIR/<scenario>.cpuprofile, for Chrome DevTools or speedscope;
               npx tsx bench/profile-summary.ts DIR/<scenario>.cpuprofile prints the heaviest parts
--startup-runs N: starts timed per way of starting (npm start, node), median reported (3)
scenarios: startup, ceiling, health, mypage, mypage-cookie, verify, forward-auth, mypage-many-users,
           forward-auth-many-users, verify-many-users, refresh, refresh-sync-normal, hash-bound, login, join, mixed, mypage-under-login-storm
           (the ceiling, a bare Fastify /health, runs whenever an HTTP scenario does)`

const args = parseOptions('bench', USAGE, {
  duration: { type: 'string', default: '8' },
  warmup: { type: 'string', default: '2' },
  rounds: { type: 'string', default: '3' },
  connections: { type: 'string', default: '50' },
  users: { type: 'string', default: '50000' },
  postgres: { type: 'string' },
  only: { type: 'string' },
  target: { type: 'string' },
  out: { type: 'string', default: join(root, 'bench', 'results.json') },
  'server-log': { type: 'string' },
  profile: { type: 'string' },
  'node-flags': { type: 'string' },
  'startup-runs': { type: 'string', default: '3' },
  help: { type: 'boolean', default: false }
})
if (args.help) {
  process.stdout.write(USAGE + '\n')
  process.exit(0)
}

const check = usageChecks('bench', USAGE)
const duration = check.number('duration', args.duration)
const warmup = check.number('warmup', args.warmup)
const rounds = check.number('rounds', args.rounds, { whole: true })
const connections = check.number('connections', args.connections, { whole: true })
const manyUsers = check.number('users', args.users, { whole: true, max: 1_000_000 })
const startupRuns = check.number('startup-runs', args['startup-runs'], { whole: true })
const target = args.target?.replace(/\/+$/, '')

const MANY_USERS = ['mypage-many-users', 'forward-auth-many-users', 'verify-many-users']
/** Scenarios run again on a PostgreSQL service (--postgres), as `<name>-postgres`. */
const ON_POSTGRES = ['mypage', 'refresh']
const ALL = ['startup', 'ceiling', 'health', 'mypage', 'mypage-cookie', 'verify', 'forward-auth', ...MANY_USERS, 'refresh', 'refresh-sync-normal',
  ...ON_POSTGRES.map((name) => `${name}-postgres`),
  'hash-bound', 'login', 'join', 'mixed', 'mypage-under-login-storm']
if (args.postgres !== undefined && !/^postgres(ql)?:\/\//.test(args.postgres)) check.fail(`--postgres must be a postgres:// URL, got "${args.postgres}"`)
const only = args.only === undefined ? ALL.filter((name) => args.postgres !== undefined || !name.endsWith('-postgres')) : args.only.split(',').map((s) => s.trim()).filter((s) => s !== '')
/** Every scenario (no --only): the memory targets are about the whole bench. */
const fullBench = args.only === undefined
for (const name of only) {
  if (!ALL.includes(name)) {
    check.fail(`--only: unknown scenario "${name}"`)
  }
}
// Login's figure is read against the hash bound, so measure it whenever login runs;
// every HTTP figure is read against the ceiling, so measure it whenever one runs.
const wanted = new Set(only.includes('login') ? [...only, 'hash-bound'] : only)
if (only.some((name) => !['startup', 'hash-bound'].includes(name))) wanted.add('ceiling')
if (only.some((name) => name.endsWith('-postgres')) && (args.postgres === undefined || target !== undefined)) check.fail('the *-postgres scenarios need --postgres URL (and no --target)')
// A PostgreSQL figure is read against the same scenario on SQLite.
for (const name of ON_POSTGRES) if (wanted.has(`${name}-postgres`)) wanted.add(name)
// A working-set figure is read against the same request with one user per connection.
for (const name of MANY_USERS) if (wanted.has(name)) wanted.add(name.replace('-many-users', ''))
if (target !== undefined && MANY_USERS.some((name) => wanted.has(name))) check.fail('the *-many-users scenarios seed the service\'s database: they need the bench to start it (no --target)')

const log = (line: string): void => { process.stderr.write(line + '\n') }
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** The service's configuration for the bench: its defaults, the caller's env, and raised rate limits. */
const benchEnv: Record<string, string> = {
  RATE_LIMIT_LOGIN_MAX: '1000000000',
  RATE_LIMIT_JOIN_MAX: '1000000000'
}
const extraFlags = (args['node-flags'] ?? '').split(/\s+/).filter((flag) => flag !== '')

interface Row extends Measured {
  name: string
  about: string
  connections: number
  duration: number
  /** Service memory after the run, MB (when the bench started the service). */
  rssMb?: number
  peakRssMb?: number
}

function machine (): Record<string, unknown> {
  const list = cpus()
  let disk: string | undefined
  try {
    disk = execFileSync('df', ['-hT', tmpdir()], { encoding: 'utf8' }).trim().split('\n')[1]
  } catch {}
  return {
    cpus: list.length,
    cpuModel: list[0]?.model,
    memoryGb: +(totalmem() / 2 ** 30).toFixed(1),
    freeMemoryGb: +(freemem() / 2 ** 30).toFixed(1),
    os: `${platform()} ${release()}`,
    node: process.version,
    loadAverageAtStart: loadavg().map((l) => +l.toFixed(2)),
    tmpFilesystem: disk
  }
}

/**
 * A fixed single-thread workload (HMAC-SHA256 and JSON, 200k rounds), timed at
 * the start and the end of the run: on a shared or virtual machine the speed
 * of a core drifts, and this says by how much, so that runs can be compared.
 */
function calibrate (): number {
  const start = performance.now()
  let sink = 0
  for (let i = 0; i < 200_000; i++) {
    sink += createHmac('sha256', 'bench').update(`payload ${i}`).digest('base64url').length
    sink += JSON.stringify({ i, text: 'calibration' }).length
  }
  if (sink === 0) throw new Error('unreachable')
  return performance.now() - start
}

/**
 * Median time of a 4 KiB write + fsync in the temp directory (where the
 * services keep their databases), at the start and the end of the run: with
 * SQLITE_SYNCHRONOUS=full every commit waits for one, so refresh's throughput
 * follows it (50 connections ÷ commit time) whatever the CPU does.
 */
function fsyncProbe (): number {
  const dir = mkdtempSync(join(tmpdir(), 'auth-bench-fsync-'))
  const fd = openSync(join(dir, 'probe'), 'w')
  const times: number[] = []
  try {
    const block = Buffer.alloc(4096, 1)
    for (let i = 0; i < 15; i++) {
      const start = performance.now()
      writeSync(fd, block, 0, block.length, 0)
      fsyncSync(fd)
      times.push(performance.now() - start)
    }
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
  return median(times)
}

async function hashBound (env: Record<string, string>, seconds: number): Promise<Record<string, unknown>> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'hash-bound.ts'), String(seconds)], {
      cwd: root,
      env: serviceEnv(env),
      stdio: ['ignore', 'pipe', 'inherit']
    })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    child.once('error', reject)
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`hash-bound exited with ${String(code)}`)
        resolve(JSON.parse(out) as Record<string, unknown>)
      } catch (err) {
        reject(err)
      }
    })
  })
}

async function createUsers (origin: string, runId: string, n: number): Promise<string[]> {
  const emails = Array.from({ length: n }, (_, i) => `u${i}-${runId}@bench.example.com`)
  await mapLimit(n, 8, async (i) => await joinUser(origin, emails[i] ?? ''))
  return emails
}

/** A fresh database on the PostgreSQL server `serverUrl` names; `drop` removes it. */
async function createDatabase (serverUrl: string, name: string): Promise<{ url: string, drop: () => Promise<void> }> {
  const admin = async (statement: string): Promise<void> => {
    const client = new pg.Client({ connectionString: serverUrl })
    await client.connect()
    try { await client.query(statement) } finally { await client.end() }
  }
  await admin(`CREATE DATABASE "${name}"`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: async () => { await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) } }
}

/**
 * N users and a token each in the running service's database, as a load test
 * of a stack would make them (docs/load-testing.md): `seed --tokens`, whose
 * tokens live an hour. Returns the access tokens, shuffled.
 */
async function manyUserTokens (service: Service, n: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-bench-tokens-'))
  const file = join(dir, 'tokens.jsonl')
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'seed', '--number', String(n), '--password', 'bench-many-users', '--tokens', file, '--lifetime', '1h'], {
        cwd: root,
        env: serviceEnv({ ...benchEnv, DATABASE_URL: service.databaseUrl, LOG_LEVEL: 'warn' }),
        stdio: ['ignore', 'ignore', 'pipe']
      })
      let err = ''
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err = (err + chunk).slice(-2000) })
      child.once('error', reject)
      child.once('exit', (code) => { code === 0 ? resolve() : reject(new Error(`seed --tokens exited with ${String(code)}: ${err}`)) })
    })
    const tokens = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '').map((line) => (JSON.parse(line) as { access: string }).access)
    for (let i = tokens.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [tokens[i], tokens[j]] = [tokens[j] as string, tokens[i] as string]
    }
    return tokens
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const f = (n: number | undefined, digits = 0): string => n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits)

function table (rows: Row[]): string {
  const health = rows.find((r) => r.name === 'health')?.rps
  const ceiling = rows.find((r) => r.name === 'ceiling')?.rps
  const head = ['scenario', 'conns', 'req/s', '× ceiling', '× health', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'CPU µs/req', 'RSS MB']
  const body = rows.map((r) => [
    r.name, String(r.connections), f(r.rps), ceiling === undefined ? '-' : f(r.rps / ceiling, 2), health === undefined ? '-' : f(r.rps / health, 2),
    f(r.latency.p50, 2), f(r.latency.p99, 2), f(r.latency.max, 1),
    String(r.non2xx + r.errors + r.timeouts), f(r.cpuUsPerRequest), f(r.rssMb)
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)))
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)).join(' | ') + ' |'
  return [line(head), '|' + widths.map((w, i) => i === 0 ? '-'.repeat(w + 1) + '-|' : '-'.repeat(w + 1) + ':|').join(''), ...body.map(line)].join('\n')
}

interface Target { target: string, value: number, limit: number, met: boolean, note?: string }

function evaluate (rows: Row[], startup: Record<string, number[]> | undefined, bound: number | undefined, finalRss: number | undefined, peakRss: number | undefined): Target[] {
  const get = (name: string): Row | undefined => rows.find((r) => r.name === name)
  const out: Target[] = []
  const atMost = (name: string, value: number, limit: number, note?: string): void => { out.push({ target: name, value, limit, met: value <= limit, ...(note === undefined ? {} : { note }) }) }
  const atLeast = (name: string, value: number, limit: number, note?: string): void => { out.push({ target: name, value, limit, met: value >= limit, ...(note === undefined ? {} : { note }) }) }
  const health = get('health')
  for (const name of ['mypage', 'verify']) {
    const r = get(name)
    if (r === undefined) continue
    if (health !== undefined) atLeast(`${name} req/s ÷ health req/s`, r.rps / health.rps, 0.75)
    atMost(`${name} p99 ms`, r.latency.p99, 10, r.connections === 50 ? undefined : `measured at ${r.connections} connections, the target is for 50`)
  }
  const refresh = get('refresh')
  if (refresh !== undefined && health !== undefined) atLeast('refresh req/s ÷ health req/s', refresh.rps / health.rps, 0.3)
  // Against a bare Fastify /health measured in the same run, with the default logging.
  const ceiling = get('ceiling')
  if (ceiling !== undefined) {
    for (const [name, limit] of [['mypage', 0.4], ['verify', 0.35], ['refresh', 0.1]] as const) {
      const r = get(name)
      if (r !== undefined) atLeast(`${name} req/s ÷ ceiling req/s`, r.rps / ceiling.rps, limit, name === 'refresh' ? `SQLITE_SYNCHRONOUS=${process.env.SQLITE_SYNCHRONOUS ?? 'full'}` : undefined)
    }
  }
  for (const name of MANY_USERS) {
    const many = get(name)
    const one = get(name.replace('-many-users', ''))
    if (many !== undefined && one !== undefined && name === 'mypage-many-users') atLeast(`mypage with ${manyUsers} users ÷ mypage with a user per connection`, many.rps / one.rps, 0.5)
  }
  const refreshPg = get('refresh-postgres')
  if (refreshPg !== undefined && refresh !== undefined) atLeast('refresh on PostgreSQL ÷ refresh on SQLite', refreshPg.rps / refresh.rps, 0.6)
  const login = get('login')
  if (login !== undefined && bound !== undefined) atLeast('login req/s ÷ hash bound', login.rps / bound, 0.9)
  const storm = get('mypage-under-login-storm')
  if (storm?.extra !== undefined) atMost('storm p99 ÷ idle p99', storm.extra.p99Ratio as number, 3)
  if (finalRss !== undefined && fullBench) atMost('RSS MB after the full bench', finalRss, 150)
  if (peakRss !== undefined && fullBench) atMost('peak RSS MB over the full bench', peakRss, 200)
  const node = startup?.node
  const bare = startup?.bare
  if (node !== undefined && bare !== undefined && node.length > 0 && bare.length > 0) {
    atMost('node dist/src/server.js → 200 on /health ÷ bare Fastify (medians)', median(node) / median(bare), 2)
  }
  return out
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] ?? NaN : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2
}

async function main (): Promise<void> {
  const runId = randomBytes(4).toString('hex')
  const results: Record<string, unknown> = {
    when: new Date().toISOString(),
    machine: machine(),
    options: { duration, rounds, warmup, connections, users: manyUsers, postgres: args.postgres === undefined ? null : 'yes', only, target: target ?? null }
  }
  log(`auth-service bench ${runId}: ${connections} connections, ${duration} s per scenario (+${warmup} s warm-up), load generator: autocannon in this process`)
  const calibration: number[] = [calibrate()]
  const fsyncs: number[] = [fsyncProbe()]

  if (target === undefined) ensureBuilt(root, log)

  // Startup first, on an idle machine: `npm start` (what users type) and plain node.
  let startup: Record<string, number[]> | undefined
  if (target === undefined && wanted.has('startup')) {
    await fetch('http://127.0.0.1:9/').catch(() => {}) // load fetch itself before timing
    startup = { npm: [], node: [], nodeCpu: [], bare: [], bareCpu: [] }
    for (let i = 0; i < startupRuns; i++) {
      startup.npm?.push((await measureStartup(root, 'npm', benchEnv)).ms)
      const node = await measureStartup(root, 'node', benchEnv)
      startup.node?.push(node.ms)
      if (node.cpuMs !== undefined) startup.nodeCpu?.push(node.cpuMs)
      // The same start of a bare Fastify server: what node and Fastify alone take now.
      const bare = await measureStartup(root, 'bare', {})
      startup.bare?.push(bare.ms)
      if (bare.cpuMs !== undefined) startup.bareCpu?.push(bare.cpuMs)
    }
    log(`startup to first 200 on /health: npm start ${startup.npm?.map((x) => f(x)).join(', ')} ms; node ${startup.node?.map((x) => f(x)).join(', ')} ms; bare Fastify ${startup.bare?.map((x) => f(x)).join(', ')} ms`)
    results.startup = {
      npmStartMs: startup.npm,
      nodeMs: startup.node,
      nodeCpuMs: startup.nodeCpu,
      bareMs: startup.bare,
      bareCpuMs: startup.bareCpu,
      npmStartMedianMs: median(startup.npm ?? []),
      nodeMedianMs: median(startup.node ?? []),
      nodeCpuMedianMs: median(startup.nodeCpu ?? []),
      bareMedianMs: median(startup.bare ?? []),
      bareCpuMedianMs: median(startup.bareCpu ?? [])
    }
  }

  // The hash bound is measured in rounds among the others (the services idle
  // meanwhile), so that it sees the same machine as login: on a shared machine
  // the speed of a core drifts within minutes.
  const bounds: Array<Record<string, unknown>> = []
  let bound: number | undefined
  const measureBound = async (seconds: number): Promise<void> => {
    const measured = await hashBound(benchEnv, seconds)
    bounds.push(measured)
    const done = bounds.reduce((sum, b) => sum + (b.hashesPerSecond as number) * (b.seconds as number), 0)
    bound = done / bounds.reduce((sum, b) => sum + (b.seconds as number), 0)
    results.hashBound = { hashesPerSecond: bound, argon2: measured.argon2, concurrency: measured.concurrency, threadpool: measured.threadpool, rounds: bounds.map((b) => b.hashesPerSecond) }
  }

  const rows: Row[] = []
  const profileDir = args.profile === undefined ? undefined : resolve(args.profile)

  /** A service for `name` (unless --target) with its users, and the context scenarios run in. */
  const open = async (name: string, env: Record<string, string>): Promise<{ ctx: Context, service?: Service, profileTo?: (scenario: string) => void }> => {
    const dir = profileDir === undefined ? undefined : join(profileDir, name)
    if (dir !== undefined) mkdirSync(dir, { recursive: true })
    const flags = [...extraFlags, ...(dir === undefined ? [] : ['--import', join(root, 'bench', 'lib', 'profile-hook.mjs')])]
    const service = target === undefined ? await startService(root, { ...env, ...(dir === undefined ? {} : { BENCH_PROFILE_DIR: dir }) }, args['server-log'], flags) : undefined
    const origin = target ?? service?.origin ?? ''
    const users = await createUsers(origin, `${runId}${name}`, connections)
    let profiles = 0
    const profiler = service === undefined || dir === undefined
      ? undefined
      : {
          start: async () => { service.signal('SIGWINCH'); await sleep(100) },
          stop: async () => {
            service.signal('SIGWINCH')
            const file = join(dir, `profile-${profiles++}.cpuprofile`)
            for (let i = 0; i < 300 && !existsSync(file); i++) await sleep(100)
          }
        }
    const ctx: Context = {
      origin,
      connections,
      duration,
      rounds,
      warmup,
      users,
      runId,
      log,
      ...(service === undefined ? {} : { serviceCpu: service.cpuSeconds }),
      ...(profiler === undefined ? {} : { profiler })
    }
    // The last profile taken becomes <scenario>.cpuprofile (a scenario's last round).
    const profileTo = dir === undefined || profileDir === undefined
      ? undefined
      : (scenario: string) => {
          const file = join(dir, `profile-${profiles - 1}.cpuprofile`)
          if (profiles > 0 && existsSync(file)) renameSync(file, join(profileDir, `${scenario}.cpuprofile`))
        }
    return { ctx, ...(service === undefined ? {} : { service }), ...(profileTo === undefined ? {} : { profileTo }) }
  }

  let finalRss: number | undefined
  const services: Service[] = []
  let pgDatabase: { url: string, drop: () => Promise<void> } | undefined
  try {
    const main = await open('main', benchEnv)
    if (main.service !== undefined) services.push(main.service)
    if (main.service !== undefined && MANY_USERS.some((name) => wanted.has(name))) {
      const started = performance.now()
      main.ctx.manyTokens = await manyUserTokens(main.service, manyUsers)
      log(`working set: ${manyUsers} users seeded and logged in (seed --tokens) in ${f((performance.now() - started) / 1000, 1)} s`)
    }
    // The ceiling: a bare Fastify /health (bench/bare-server.mjs), started with
    // the same node flags and loaded by the same scenario as the service.
    let bare: typeof main | undefined
    if (wanted.has('ceiling')) {
      const service = await startService(root, {}, undefined, extraFlags, join(root, 'bench', 'bare-server.mjs'))
      services.push(service)
      const { profiler: _profiler, ...ctx } = main.ctx
      bare = { ctx: { ...ctx, origin: service.origin, users: [], serviceCpu: service.cpuSeconds }, service }
    }
    // The durability trade-off: refresh on a second service committing with
    // synchronous=NORMAL (no fsync per commit), interleaved with the rest.
    let normal: Awaited<ReturnType<typeof open>> | undefined
    if (wanted.has('refresh-sync-normal')) {
      if (target !== undefined) log('refresh-sync-normal: skipped (needs to start the service itself)')
      else {
        normal = await open('normal', { ...benchEnv, SQLITE_SYNCHRONOUS: 'normal' })
        if (normal.service !== undefined) services.push(normal.service)
      }
    }

    // The same service on PostgreSQL, in a database of its own made for this run.
    let onPostgres: Awaited<ReturnType<typeof open>> | undefined
    if (args.postgres !== undefined && ON_POSTGRES.some((name) => wanted.has(`${name}-postgres`))) {
      pgDatabase = await createDatabase(args.postgres, `auth_bench_${runId}`)
      onPostgres = await open('postgres', { ...benchEnv, DATABASE_URL: pgDatabase.url })
      if (onPostgres.service !== undefined) services.push(onPostgres.service)
    }

    interface Entry { name: string, about: string, extra?: Record<string, unknown>, run: (seconds: number, measured: boolean) => Promise<Measured | undefined>, on: typeof main }
    const entries: Entry[] = []
    for (const scenario of scenarios) {
      if (!wanted.has(scenario.name) || scenario.round === undefined) continue
      const round = scenario.round
      const on = scenario.name === 'ceiling' ? bare : main
      if (on === undefined) continue
      entries.push({ name: scenario.name, about: scenario.about, ...(scenario.extra === undefined ? {} : { extra: scenario.extra }), run: async (seconds, measured) => await round(on.ctx, seconds, measured), on })
      // The hash bound goes beside login.
      if (scenario.name === 'login' && wanted.has('hash-bound')) {
        entries.push({ name: 'hash-bound', about: '', run: async (seconds, measured) => { if (measured) await measureBound(seconds); return undefined }, on: main })
      }
    }
    if (wanted.has('hash-bound') && !wanted.has('login')) {
      entries.push({ name: 'hash-bound', about: '', run: async (seconds, measured) => { if (measured) await measureBound(seconds); return undefined }, on: main })
    }
    if (onPostgres !== undefined) {
      const pgCtx = onPostgres.ctx
      for (const scenario of scenarios) {
        const round = scenario.round
        if (!ON_POSTGRES.includes(scenario.name) || !wanted.has(`${scenario.name}-postgres`) || round === undefined) continue
        entries.push({ name: `${scenario.name}-postgres`, about: `${scenario.about}, on PostgreSQL`, run: async (seconds, measured) => await round(pgCtx, seconds, measured), on: onPostgres })
      }
    }
    if (normal !== undefined) {
      const scenario = refreshScenario('refresh-sync-normal', 'refresh as above, on a service started with SQLITE_SYNCHRONOUS=normal')
      const ctx = normal.ctx
      entries.push({ name: scenario.name, about: scenario.about, run: async (seconds, measured) => await scenario.round?.(ctx, seconds, measured), on: normal })
    }

    if (warmup > 0) {
      for (const entry of entries) {
        log(`warm-up: ${entry.name}`)
        await entry.run(warmup, false)
      }
    }
    const measuredRounds = new Map<string, Measured[]>()
    const memoryAfter = new Map<string, { rss: number, peak: number } | undefined>()
    for (let r = 1; r <= rounds; r++) {
      for (const entry of entries) {
        log(`round ${r}/${rounds}: ${entry.name}`)
        const result = await entry.run(duration / rounds, true)
        if (result !== undefined) measuredRounds.set(entry.name, [...(measuredRounds.get(entry.name) ?? []), result])
        entry.on.profileTo?.(entry.name)
        if (r === rounds) memoryAfter.set(entry.name, entry.on.service?.memory())
      }
    }
    const rowOf = (name: string, about: string, measured: Measured, on: typeof main, extra?: Record<string, unknown>): Row => {
      const memory = memoryAfter.has(name) ? memoryAfter.get(name) : on.service?.memory()
      return { name, about, connections, duration, ...measured, ...(extra === undefined ? {} : { extra }), ...(memory === undefined ? {} : { rssMb: memory.rss, peakRssMb: memory.peak }) }
    }
    for (const entry of entries) {
      const runs = measuredRounds.get(entry.name)
      if (runs !== undefined) rows.push(rowOf(entry.name, entry.about, mergeMeasured(runs), entry.on, entry.extra))
    }
    if (bound !== undefined) log(`hash bound: ${f(bound, 1)} verifications/s (${JSON.stringify(results.hashBound)})${target === undefined ? '' : ' — with this checkout\'s configuration; meaningful for the target only if it hashes the same way'}`)

    // Scenarios measured whole come last, on the main service: its memory after
    // them is the figure "after the full bench".
    for (const scenario of scenarios) {
      if (!wanted.has(scenario.name) || scenario.whole === undefined) continue
      log(`${scenario.name} …`)
      const measured = await scenario.whole(main.ctx)
      main.profileTo?.(scenario.name)
      rows.push(rowOf(scenario.name, scenario.about, measured, main))
    }
    // Rows in the order of the scenario list, the normal-durability refresh last.
    const order = [...scenarios.map((sc) => sc.name), 'refresh-sync-normal', ...ON_POSTGRES.map((name) => `${name}-postgres`)]
    rows.sort((x, y) => order.indexOf(x.name) - order.indexOf(y.name))
    for (const row of rows) log(`  ${row.name}: ${f(row.rps)} req/s, p99 ${f(row.latency.p99, 2)} ms, non-2xx ${row.non2xx}${row.cpuUsPerRequest === undefined ? '' : `, ${f(row.cpuUsPerRequest)} µs CPU/req`}${row.rssMb === undefined ? '' : `, RSS ${f(row.rssMb)} MB`}`)
    const memory = main.service?.memory()
    finalRss = memory?.rss
    results.finalRssMb = finalRss
    results.peakRssMb = memory?.peak
  } finally {
    for (const service of services) await service.stop()
    await pgDatabase?.drop()
  }

  if (profileDir !== undefined) log(`profiles: ${profileDir}/<scenario>.cpuprofile (npx tsx bench/profile-summary.ts FILE prints the heaviest parts)`)
  const targets = evaluate(rows, startup, bound, finalRss, results.peakRssMb as number | undefined)
  // Without the raw latency samples (they made the percentiles).
  results.scenarios = rows.map(({ samples: _samples, ...row }) => row)
  results.targets = targets
  results.loadAverageAtEnd = loadavg().map((l) => +l.toFixed(2))
  calibration.push(calibrate())
  fsyncs.push(fsyncProbe())
  results.fsyncMs = { start: +(fsyncs[0] ?? 0).toFixed(2), end: +(fsyncs[1] ?? 0).toFixed(2), about: 'median of 15 × (4 KiB write + fsync) in the temp directory' }
  results.calibrationMs = { start: +(calibration[0] ?? 0).toFixed(0), end: +(calibration[1] ?? 0).toFixed(0), about: 'one core: 200k × (HMAC-SHA256 + JSON.stringify); lower is faster' }
  mkdirSync(dirname(resolve(args.out)), { recursive: true })
  writeFileSync(resolve(args.out), JSON.stringify(results, null, 2) + '\n')

  const lines = [table(rows), '']
  const ceilingRow = rows.find((r) => r.name === 'ceiling')
  const healthRow = rows.find((r) => r.name === 'health')
  if (ceilingRow !== undefined) lines.push(`ceiling (bare Fastify 5 /health, no plugins, no logging): ${f(ceilingRow.rps)} req/s${healthRow === undefined ? '' : `; the service's /health reaches ${f(healthRow.rps / ceilingRow.rps, 2)} of it at LOG_LEVEL=${process.env.LOG_LEVEL ?? 'info'}`}`)
  if (startup !== undefined) {
    lines.push(`startup (fresh data dir → first 200 on /health), median of ${startupRuns}: npm start ${f(median(startup.npm ?? []))} ms, node dist/src/server.js ${f(median(startup.node ?? []))} ms (${f(median(startup.nodeCpu ?? []))} ms CPU); bare Fastify ${f(median(startup.bare ?? []))} ms (${f(median(startup.bareCpu ?? []))} ms CPU)`)
  }
  const login = rows.find((r) => r.name === 'login')
  if (bound !== undefined) lines.push(`hash bound: ${f(bound, 1)} argon2 verifications/s${login === undefined ? '' : `; login reaches ${f(login.rps, 1)} req/s = ${f(login.rps / bound, 2)} of it`}`)
  const storm = rows.find((r) => r.name === 'mypage-under-login-storm')
  if (storm?.extra !== undefined) {
    const idle = storm.extra.idle as { rps: number, p99: number }
    const logins = storm.extra.login as { rps: number }
    lines.push(`login storm: mypage p99 ${f(idle.p99, 2)} ms alone → ${f(storm.latency.p99, 2)} ms with ${f(logins.rps, 1)} logins/s beside it (× ${f(storm.extra.p99Ratio as number, 2)}); mypage ${f(idle.rps)} → ${f(storm.rps)} req/s`)
  }
  for (const name of MANY_USERS) {
    const many = rows.find((r) => r.name === name)
    const one = rows.find((r) => r.name === name.replace('-many-users', ''))
    if (many !== undefined && one !== undefined) lines.push(`working set: ${one.name} ${f(one.rps)} req/s with a user per connection, ${f(many.rps)} req/s with ${manyUsers} users (× ${f(many.rps / one.rps, 2)})`)
  }
  for (const name of ON_POSTGRES) {
    const sqlite = rows.find((r) => r.name === name)
    const postgres = rows.find((r) => r.name === `${name}-postgres`)
    if (sqlite !== undefined && postgres !== undefined) lines.push(`PostgreSQL: ${name} ${f(postgres.rps)} req/s, ${f(postgres.rps / sqlite.rps, 2)} × SQLite's ${f(sqlite.rps)}`)
  }
  const full = rows.find((r) => r.name === 'refresh')
  const normal = rows.find((r) => r.name === 'refresh-sync-normal')
  if (full !== undefined && normal !== undefined) lines.push(`refresh: ${f(full.rps)} req/s with SQLITE_SYNCHRONOUS=${process.env.SQLITE_SYNCHRONOUS ?? 'full'} (default), ${f(normal.rps)} req/s with normal`)
  if (finalRss !== undefined) lines.push(`service RSS after the last scenario: ${f(finalRss)} MB (peak ${f(results.peakRssMb as number)} MB)`)
  lines.push(`machine: ${String((results.machine as Record<string, unknown>).cpus)} × ${String((results.machine as Record<string, unknown>).cpuModel)}; core speed check ${f(calibration[0])} ms at start, ${f(calibration[1])} ms at end (lower is faster); fsync ${f(fsyncs[0], 2)} ms at start, ${f(fsyncs[1], 2)} ms at end; load average ${JSON.stringify((results.machine as Record<string, unknown>).loadAverageAtStart)} → ${JSON.stringify(results.loadAverageAtEnd)}`)
  if (targets.length > 0) {
    lines.push('', 'targets:')
    for (const t of targets) lines.push(`  ${t.met ? 'met   ' : 'MISSED'} ${t.target}: ${f(t.value, 2)} (limit ${t.limit})${t.note === undefined ? '' : ` — ${t.note}`}`)
  }
  lines.push('', `results: ${resolve(args.out)}`)
  process.stdout.write(lines.join('\n') + '\n')

  const failures = rows.filter((r) => r.non2xx + r.errors + r.timeouts > 0)
  if (failures.length > 0) {
    log(`non-2xx answers or errors in: ${failures.map((r) => `${r.name} ${JSON.stringify(r.statusCodes)}`).join(', ')}`)
    process.exitCode = 1
  }
}

main().catch((err: unknown) => {
  log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  process.exit(1)
})
