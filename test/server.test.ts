import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { tempDir } from './helpers/app.js'

/** Starts src/server.ts as a real process on a free port; resolves with its URL. */
async function start (t: Parameters<typeof tempDir>[0], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const lines: string[] = []
  const waiters: Array<{ pattern: RegExp, resolve: () => void }> = []
  /** Resolves once the server prints a line matching `pattern`. */
  const waitForLine = async (pattern: RegExp): Promise<void> => {
    if (lines.some((l) => pattern.test(l))) return
    await new Promise<void>((resolve) => waiters.push({ pattern, resolve }))
  }
  child.stderr.on('data', (d: Buffer) => { lines.push(String(d)) })
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line)
      for (const w of waiters) if (w.pattern.test(line)) w.resolve()
      const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/i.exec(line)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    child.on('exit', (code) => reject(new Error(`exited ${String(code)}: ${lines.join('\n')}`)))
  })
  return { child, url, exited, lines, waitForLine }
}

t.test('the server starts on an empty data dir, serves, and stops cleanly on SIGTERM', async (t) => {
  const dir = join(tempDir(t), 'nested', 'data')
  // At debug a line says when a request is received (written within a second).
  const { child, url, exited, lines, waitForLine } = await start(t, { DATABASE_URL: `file:${join(dir, 'auth.db')}`, LOG_LEVEL: 'debug' })
  const health = await fetch(`${url}/health`)
  t.equal(health.status, 200)
  t.same(await health.json(), { status: 'ok' })
  t.ok(existsSync(join(dir, 'auth.db')), 'database created')
  t.ok(existsSync(join(dir, 'jwt-secret')), 'secret generated')

  // A login in flight when SIGTERM arrives still gets its answer.
  const inflight = fetch(`${url}/account/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'late@example.com', password: 'correct-Horse-battery-9' })
  })
  await waitForLine(/"path":"\/account\/join".*request received/)
  child.kill('SIGTERM')
  t.equal((await inflight).status, 201, 'the accepted request completed')
  t.equal(await exited, 0, 'exit code 0', { output: lines.join('\n').slice(-3000) })
  t.notOk(existsSync(join(dir, 'auth.db-wal')), 'the database was closed (WAL checkpointed)')
})

t.test('a database that cannot be opened stops the start with one clear line', async (t) => {
  const dir = tempDir(t)
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    // A directory where the database file should be.
    env: { ...process.env, PORT: '0', DATABASE_URL: dir, JWT_SECRET: 'k'.repeat(32) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += String(d) })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 1)
  t.match(stderr.trim(), /^Cannot start: /)
  t.equal(stderr.trim().split('\n').length, 1)
})

t.test('TRUST_PROXY=true stops the start with one line naming the variable', async (t) => {
  const dir = tempDir(t)
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: '0', DATABASE_URL: join(dir, 'auth.db'), JWT_SECRET: 'k'.repeat(32), TRUST_PROXY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += String(d) })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.equal(code, 1)
  t.match(stderr.trim(), /^Invalid configuration: TRUST_PROXY must not be "true"/)
  t.equal(stderr.trim().split('\n').length, 1)
})
