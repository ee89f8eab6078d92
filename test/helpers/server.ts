import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import { projectRoot } from '../../src/paths.js'
import { freePort } from '../../bench/lib/service.js'
import { childEnv } from './process.js'

export interface ServerProcess {
  child: ChildProcess
  pid: number
  /** `http://127.0.0.1:PORT` */
  url: string
  /** Every line the process wrote (stdout and stderr), in order of arrival. */
  lines: string[]
  /** Resolves once the process has exited and its output has been read. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** The environment of a spawned server (process-helper's childEnv), with quiet, fast-to-test defaults, and `env`. */
function serverEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  return childEnv({
    HOST: '127.0.0.1',
    PORT: '0',
    COOKIE_SECURE: 'false',
    SERVE_CLIENT: 'false',
    RATE_LIMIT_LOGIN_MAX: '1000000',
    RATE_LIMIT_JOIN_MAX: '1000000',
    ...env
  })
}

/**
 * Starts `node --import tsx src/server.ts` (the real process; `built`: `node
 * --enable-source-maps dist/src/server.js`, as npm start) and resolves once
 * it logs "Server listening at http://127.0.0.1:PORT" (`plain`: `node dist/src/server.js`
 * without any flag, as a supervisor may start it). Rejects with its output
 * if it exits first. The line is logged at `info`, so LOG_LEVEL stays `info`
 * unless the caller overrides it (and then must not expect to see it).
 */
export async function startServer (env: Record<string, string>, options: { quiet?: boolean, detached?: boolean, nodeArgs?: string[], built?: boolean, plain?: boolean } = {}): Promise<ServerProcess> {
  // Quiet: warnings only (no per-request lines), so the port is chosen here and
  // readiness is polled on /health instead of read from the log.
  const port = options.quiet === true ? await freePort() : 0
  const entry = options.plain === true ? ['dist/src/server.js'] : options.built === true ? ['--enable-source-maps', 'dist/src/server.js'] : ['--import', 'tsx', 'src/server.ts']
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...entry], {
    cwd: projectRoot,
    env: serverEnv({ LOG_LEVEL: 'info', ...env, ...(options.quiet === true ? { LOG_LEVEL: 'warn', PORT: String(port) } : {}) }),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Detached: a process group of its own, which a test can signal as a terminal's Ctrl-C would.
    detached: options.detached === true
  })
  const lines: string[] = []
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }))
  })
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line))
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line)
      const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/i.exec(line)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    void exited.then(({ code, signal }) => reject(new Error(`server exited (${String(code ?? signal)}) before listening:\n${lines.join('\n').slice(-4000)}`)))
    if (options.quiet === true) void pollHealth(`http://127.0.0.1:${port}`, exited).then(resolve, reject)
  })
  return { child, pid: child.pid!, url, lines, exited }
}

/** `startServer` for one test: killed (SIGKILL) when the test ends, if it is still running. */
export async function startTestServer (t: Test, env: Record<string, string>, options: Parameters<typeof startServer>[1] = {}): Promise<ServerProcess> {
  const server = await startServer(env, options)
  t.teardown(async () => { await stopServer(server, 'SIGKILL') })
  return server
}

async function pollHealth (url: string, exited: Promise<unknown>): Promise<string> {
  let gone = false
  void exited.then(() => { gone = true })
  while (!gone) {
    try {
      if ((await fetch(`${url}/health`)).status === 200) return url
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('server exited before answering /health')
}

/** Sends `signal` unless the process is gone; resolves when it has exited. */
export async function stopServer (server: ServerProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal)
  return await server.exited
}

/** Resident set size of a process in bytes (Linux /proc), or undefined once it is gone. */
export function rssOf (pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
    return kib === undefined ? undefined : Number(kib) * 1024
  } catch {
    return undefined
  }
}

/** The server's pino lines as objects (non-JSON lines skipped). */
export function logRecords (lines: string[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  for (const line of lines) {
    if (!line.startsWith('{')) continue
    try { out.push(JSON.parse(line) as Record<string, unknown>) } catch { /* a partial line */ }
  }
  return out
}
