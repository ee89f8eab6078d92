import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { waitForHealth } from './api.js'

/**
 * The Node flags of the start script in `dir`'s package.json (`node [flags]
 * dist/src/server.js`): the service, and the bare Fastify it is compared with,
 * are started with them.
 */
export function startFlags (dir: string): string[] {
  const { scripts } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: { start?: string } }
  const match = /^node((?:\s+--?[\w-]+(?:=\S+)?)*)\s+dist\/src\/server\.js$/.exec(scripts?.start?.trim() ?? '')
  if (match === null) throw new Error(`package.json "start" is not "node [flags] dist/src/server.js": ${scripts?.start ?? '(none)'}`)
  return (match[1] ?? '').trim().split(/\s+/).filter((flag) => flag !== '')
}

/** A source file (`.ts` under src, plugins, routes) newer than `than` (ms since the epoch), if any. */
function newerSource (root: string, than: number): string | undefined {
  for (const dir of ['src', 'plugins', 'routes']) {
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
      const path = join(entry.parentPath, entry.name)
      if (statSync(path).mtimeMs > than) return relative(root, path)
    }
  }
  return undefined
}

/** `npm …` the way the current npm runs it (npm_execpath under `npm run`), else from PATH. */
export function npmCommand (args: string[]): [string, string[]] {
  const execPath = process.env.npm_execpath
  if (execPath !== undefined && execPath.endsWith('.js')) return [process.execPath, [execPath, ...args]]
  return ['npm', args]
}

/** Builds dist/ with `npm run build` unless it is newer than every source file. */
export function ensureBuilt (root: string, log: (line: string) => void): void {
  const server = join(root, 'dist', 'src', 'server.js')
  const stale = existsSync(server) ? newerSource(root, statSync(server).mtimeMs) : 'nothing: dist/src/server.js is missing'
  if (stale === undefined) return
  log(`building (dist is older than ${stale}) …`)
  const [cmd, args] = npmCommand(['run', 'build'])
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`)
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Variables of the caller's environment that would point the service elsewhere. */
const PLACEMENT = ['PORT', 'HOST', 'DATABASE_URL', 'JWT_SECRET']

export function serviceEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of PLACEMENT) delete env[name]
  // npm's own variables would make `npm start` of the child think it is nested.
  for (const name of Object.keys(env)) if (name.startsWith('npm_')) delete env[name]
  return { ...env, ...extra }
}

function memoryOf (pid: number): { rss: number, peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 }
  } catch {
    return undefined // not Linux, or the process is gone
  }
}

/** CPU seconds (user + system) a process has used so far (Linux only). */
function cpuSecondsOf (pid: number): number | undefined {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    // utime and stime are fields 14 and 15 of stat(5), here 11 and 12 (0-based after the name).
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return undefined
  }
}
/** sysconf(_SC_CLK_TCK): 100 on every Linux Node supports. */
const CLOCK_TICKS = 100

export interface Service {
  origin: string
  pid: number
  /** The service's DATABASE_URL (a SQLite file of its own temp dir unless the env named another). */
  databaseUrl: string
  /** CPU seconds the service process has used so far (Linux only). */
  cpuSeconds: () => number | undefined
  /** Resident set size now and its peak so far, MB (Linux only). */
  memory: () => { rss: number, peak: number } | undefined
  stop: () => Promise<void>
  signal: (signal: NodeJS.Signals) => void
}

async function exited (child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    child.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

/**
 * Starts `node [start flags] dist/src/server.js` on a free loopback port with a fresh
 * database in a temp dir, and waits for /health. Its log goes to `logFile`
 * (or nowhere: writing it back into this process would cost the load generator).
 * `script` replaces the service with another server started the same way (the
 * bare Fastify ceiling, bench/bare-server.mjs).
 */
export async function startService (root: string, env: Record<string, string>, logFile?: string, nodeFlags: string[] = [], script = join(root, 'dist', 'src', 'server.js')): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-bench-'))
  const port = await freePort()
  const fd = logFile === undefined ? 'ignore' : openSync(logFile, 'a')
  const databaseUrl = env.DATABASE_URL ?? `file:${join(dir, 'auth.db')}`
  const child = spawn(process.execPath, [...startFlags(root), ...nodeFlags, script], {
    cwd: dir,
    env: serviceEnv({ HOST: '127.0.0.1', PORT: String(port), ...env, DATABASE_URL: databaseUrl }),
    stdio: ['ignore', fd, 'pipe']
  })
  if (typeof fd === 'number') closeSync(fd)
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000) })
  const origin = `http://127.0.0.1:${port}`
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true })
  try {
    await Promise.race([
      waitForHealth(origin, 15000),
      new Promise((_resolve, reject) => child.once('exit', (code) => reject(new Error(`the service exited (${String(code)}): ${stderr}`))))
    ])
  } catch (err) {
    child.kill('SIGKILL')
    cleanup()
    throw err
  }
  const pid = child.pid ?? 0
  return {
    origin,
    pid,
    databaseUrl,
    memory: () => memoryOf(pid),
    cpuSeconds: () => cpuSecondsOf(pid),
    signal: (signal) => { child.kill(signal) },
    async stop () {
      child.kill('SIGTERM')
      if (!await exited(child, 5000)) {
        child.kill('SIGKILL')
        await exited(child, 2000)
      }
      cleanup()
    }
  }
}

/**
 * Time from spawning `npm start` (or `node dist/src/server.js`, or the bare
 * Fastify ceiling `node bench/bare-server.mjs` with the same flags) on a fresh
 * data directory — database created and migrated, secret generated — to the
 * first 200 on /health, and the CPU time node had used by then (not for npm,
 * whose node is a grandchild): on a busy machine the wall time mostly measures
 * the wait for a core, the CPU time what the start costs. The process group is
 * ended afterwards.
 */
export async function measureStartup (root: string, via: 'npm' | 'node' | 'bare', env: Record<string, string>): Promise<{ ms: number, cpuMs?: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-bench-start-'))
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  const script = join(root, via === 'bare' ? join('bench', 'bare-server.mjs') : join('dist', 'src', 'server.js'))
  const [cmd, args] = via === 'npm' ? npmCommand(['start']) : [process.execPath, [...startFlags(root), script]]
  const started = performance.now()
  const child = spawn(cmd, args, {
    cwd: root,
    env: serviceEnv({ HOST: '127.0.0.1', PORT: String(port), DATABASE_URL: `file:${join(dir, 'auth.db')}`, ...env }),
    stdio: 'ignore',
    detached: true // its own process group: npm, its shell and node end together
  })
  try {
    await waitForHealth(origin, 15000, 2)
    const ms = performance.now() - started
    const cpu = via === 'npm' || child.pid === undefined ? undefined : cpuSecondsOf(child.pid)
    return { ms, ...(cpu === undefined ? {} : { cpuMs: cpu * 1000 }) }
  } finally {
    if (child.pid !== undefined) {
      try { process.kill(-child.pid, 'SIGTERM') } catch {}
      if (!await exited(child, 5000)) {
        try { process.kill(-child.pid, 'SIGKILL') } catch {}
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
}
