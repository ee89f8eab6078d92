import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { freePort } from '../../bench/lib/service.js'

/**
 * The shared Redis the tests use (never flushed, never stopped: every test
 * writes under a prefix of its own and deletes it). Override with REDIS_TEST_URL.
 * For "Redis down", tests start a disposable redis-server of their own.
 */
export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379/0'

/** A key prefix of this test's own; its keys are deleted when the test ends. */
export function redisPrefix (t: Test, url = REDIS_TEST_URL): string {
  const prefix = `auth-test:${randomBytes(6).toString('hex')}:`
  t.teardown(async () => {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 })
    try {
      await client.connect()
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(...keys)
    } catch { /* a disposable server already gone */ } finally {
      client.disconnect()
    }
  })
  return prefix
}

export interface DisposableRedis { url: string, port: number, stop: () => Promise<void>, start: () => Promise<void> }

/**
 * A redis-server of this test's own on a free port (no persistence), which the
 * test may stop and start again on the same port; stopped when the test ends.
 */
export async function disposableRedis (t: Test): Promise<DisposableRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    await new Promise<void>((resolve, reject) => {
      let out = ''
      proc.stdout.on('data', (d: Buffer) => {
        out += String(d)
        if (/ready to accept connections/i.test(out)) resolve()
      })
      proc.on('exit', (code) => { reject(new Error(`redis-server exited (${String(code)}): ${out.slice(-500)}`)) })
    })
  }
  const stop = async (): Promise<void> => {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null) return
    const exited = new Promise((resolve) => proc.on('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }
  await start()
  t.teardown(stop)
  return { url: `redis://127.0.0.1:${port}/0`, port, stop, start }
}
