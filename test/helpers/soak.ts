import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Client, prng, sleep, subSeed, type Reply } from './http.js'
import { rssOf, startServer, stopServer } from './server.js'

/*
 * Soak: the real server under a bounded mixed load (join, login, refresh,
 * mypage, logout) from keep-alive clients on 127.0.0.1, for a fixed time.
 * Every answer is checked; RSS is sampled from /proc each interval. Used by
 * `npm run soak` (minutes) and by test/integration/soak.test.ts (seconds).
 */

export interface SoakOptions {
  dataDir: string
  durationMs: number
  /** Concurrent virtual users. */
  concurrency: number
  /** Sampling interval. */
  intervalMs: number
  seed: number
  log?: (line: string) => void
}

export interface SoakSample {
  /** Seconds since the load started (end of the interval). */
  at: number
  requests: number
  errors: number
  rssMiB: number
}

export interface SoakReport {
  seed: number
  seconds: number
  requests: number
  errors: number
  /** Up to 20 error descriptions. */
  errorSamples: string[]
  perOp: Record<string, number>
  throughput: number
  samples: SoakSample[]
  rss: { startMiB: number, peakMiB: number, endMiB: number, secondQuarterMedianMiB: number, lastQuarterMedianMiB: number }
  /** The last quarter's median RSS is within max(16 MiB, 10 %) of the second quarter's. */
  levelledOff: boolean
  exitCode: number | null
}

const PASSWORD = 'soak-Test-passw0rd-9'
const MiB = 1024 * 1024

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)]!
}

export async function runSoak (options: SoakOptions): Promise<SoakReport> {
  const { dataDir, durationMs, concurrency, intervalMs, seed } = options
  const log = options.log ?? (() => {})
  mkdirSync(dataDir, { recursive: true })
  // Quiet (warnings only): per-request log lines would measure the log pipe, not the service.
  const server = await startServer({ DATABASE_URL: join(dataDir, 'auth.db') }, { quiet: true })
  const client = new Client(server.url, concurrency)
  const errorSamples: string[] = []
  const perOp: Record<string, number> = {}
  let requests = 0
  let errors = 0
  let intervalRequests = 0
  let intervalErrors = 0
  let stopping = false
  let emails = 0

  const call = async (op: string, expected: number, send: () => Promise<Reply>): Promise<Reply | undefined> => {
    let res: Reply | undefined
    try {
      res = await send()
    } catch (err) {
      res = undefined
      if (errorSamples.length < 20) errorSamples.push(`${op}: ${(err as Error).message}`)
    }
    requests++
    intervalRequests++
    perOp[op] = (perOp[op] ?? 0) + 1
    if (res?.status === expected) return res
    errors++
    intervalErrors++
    if (res !== undefined && errorSamples.length < 20) errorSamples.push(`${op}: ${res.status} ${res.body.slice(0, 200)}`)
    return undefined
  }

  const user = async (n: number): Promise<void> => {
    const rng = prng(subSeed(seed, n))
    let email = ''
    let access = ''
    let refresh = ''
    const joinNew = async (): Promise<boolean> => {
      email = `soak-${seed}-${n}-${++emails}@example.com`
      const res = await call('join', 201, async () => await client.post('/account/join', { email, password: PASSWORD }))
      if (res === undefined) return false
      access = res.json.access
      refresh = res.json.refresh
      return true
    }
    if (!await joinNew()) return
    while (!stopping) {
      const r = rng()
      if (r < 0.55) {
        await call('mypage', 200, async () => await client.get('/account/mypage', { authorization: `Bearer ${access}` }))
      } else if (r < 0.85) {
        const res = await call('refresh', 200, async () => await client.post('/account/token/refresh', { refresh }))
        if (res === undefined) return
        access = res.json.access
        refresh = res.json.refresh
      } else if (r < 0.95) {
        if (await call('logout', 200, async () => await client.post('/account/logout', { refresh })) === undefined) return
        const res = await call('login', 200, async () => await client.post('/account/login', { email, password: PASSWORD }))
        if (res === undefined) return
        access = res.json.access
        refresh = res.json.refresh
      } else {
        if (!await joinNew()) return
      }
    }
  }

  const samples: SoakSample[] = []
  const startRss = rssOf(server.pid) ?? 0
  const started = Date.now()
  const users = Array.from({ length: concurrency }, async (_, n) => { await user(n) })
  try {
    while (Date.now() - started < durationMs) {
      await sleep(intervalMs)
      const sample = { at: Math.round((Date.now() - started) / 100) / 10, requests: intervalRequests, errors: intervalErrors, rssMiB: Math.round((rssOf(server.pid) ?? 0) / MiB * 10) / 10 }
      intervalRequests = 0
      intervalErrors = 0
      samples.push(sample)
      log(`${sample.at.toFixed(1).padStart(6)} s  ${String(Math.round(sample.requests / (intervalMs / 1000))).padStart(6)} req/s  ${String(sample.errors).padStart(4)} errors  RSS ${sample.rssMiB.toFixed(1)} MiB`)
    }
  } finally {
    stopping = true
    await Promise.all(users)
  }
  const seconds = (Date.now() - started) / 1000
  const { code } = await stopServer(server, 'SIGTERM')
  client.close()

  const rssValues = samples.map((s) => s.rssMiB)
  const q = Math.max(1, Math.floor(samples.length / 4))
  const secondQuarter = median(rssValues.slice(q, 2 * q))
  const lastQuarter = median(rssValues.slice(-q))
  return {
    seed,
    seconds,
    requests,
    errors,
    errorSamples,
    perOp,
    throughput: Math.round(requests / seconds),
    samples,
    rss: {
      startMiB: Math.round(startRss / MiB * 10) / 10,
      peakMiB: Math.max(...rssValues),
      endMiB: rssValues.at(-1) ?? 0,
      secondQuarterMedianMiB: secondQuarter,
      lastQuarterMedianMiB: lastQuarter
    },
    levelledOff: lastQuarter - secondQuarter <= Math.max(16, secondQuarter * 0.1),
    exitCode: code
  }
}
