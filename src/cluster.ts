import cluster, { type Worker } from 'node:cluster'
import { plainHttpCookieWarning, type Config } from './config.js'
import { openStore } from './db/open.js'

/** A worker that dies this soon after it started listening is a crash loop, not a one-off: the primary gives up. */
const MIN_UPTIME_MS = 5000

/** The primary writes pino-shaped lines too, so one log reader understands both. */
function log (level: 'info' | 'warn' | 'error', msg: string, extra: Record<string, unknown> = {}): void {
  const levels = { info: 30, warn: 40, error: 50 }
  process.stdout.write(`${JSON.stringify({ level: levels[level], time: Date.now(), pid: process.pid, role: 'primary', ...extra, msg })}\n`)
}

/**
 * WORKERS=N (N > 1): this process forks N workers that each build the app and
 * listen on the same port (node:cluster shares it). The database is migrated
 * once here first, so a database that cannot be used fails the start once,
 * with one line. A worker that exits unexpectedly is replaced; SIGTERM/SIGINT
 * stop every worker gracefully (each finishes its in-flight requests), then
 * this process exits.
 */
export async function runPrimary (config: Config): Promise<void> {
  try {
    const store = await openStore(config)
    await store.close()
  } catch (err) {
    process.stderr.write(`Cannot start: ${(err as Error).message}\n`)
    process.exit(1)
  }

  let stopping = false
  const startedAt = new Map<Worker, number>()
  const fork = (): void => {
    const worker = cluster.fork()
    worker.on('listening', () => { startedAt.set(worker, Date.now()) })
  }

  cluster.on('exit', (worker, code, signal) => {
    const listenedAt = startedAt.get(worker)
    startedAt.delete(worker)
    if (stopping) {
      // A worker that did not finish cleanly (killed past the grace time, an error) makes the exit code 1.
      if (code !== 0) exitCode = 1
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        log('info', 'all workers stopped')
        process.exit(exitCode)
      }
      return
    }
    if (listenedAt === undefined || Date.now() - listenedAt < MIN_UPTIME_MS) {
      // It never served (or died at once): its start error is on stderr already.
      log('error', 'a worker failed to start; stopping', { worker: worker.process.pid, code, signal })
      stop(1)
      return
    }
    log('warn', 'a worker exited; starting a replacement', { worker: worker.process.pid, code, signal })
    fork()
  })

  let exitCode = 0
  const stop = (code: number): void => {
    exitCode = Math.max(exitCode, code)
    if (stopping) return
    stopping = true
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined)
    if (workers.length === 0) process.exit(exitCode)
    for (const w of workers) w.process.kill('SIGTERM')
    // Each worker has SHUTDOWN_GRACE for its requests; past that (and a margin) it is killed.
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
      process.exit(exitCode === 0 ? 1 : exitCode)
    }, config.shutdownGrace + 2000).unref()
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log('info', 'shutting down', { signal })
      stop(0)
    })
  }

  log('info', `starting ${config.workers} workers`, { workers: config.workers })
  // Said once here rather than by every worker (plugins/app/auth-cookies.ts).
  const warning = plainHttpCookieWarning(config)
  if (warning !== undefined) log('warn', warning, { event: 'secure_cookies_over_http', publicUrl: config.publicUrl, cookieSecure: config.cookieSecure })
  for (let i = 0; i < config.workers; i++) fork()
}
