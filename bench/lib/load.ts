import autocannon from 'autocannon'

/** One kind of request a connection sends. */
export interface Step {
  method: 'GET' | 'POST'
  path: string
  headers?: Record<string, string>
  body?: string
}

/**
 * The requests of one connection. A static `Step` is encoded once; a `Dynamic`
 * step is rebuilt before every send from the connection's own state (a rotation
 * chain, say) and told the response, so per-connection state needs nothing but
 * closures: autocannon resets its `context` whenever a sequence wraps around,
 * so state never lives there.
 */
export interface Dynamic {
  build: () => Step
  onResponse?: (status: number, body: string) => void
}

export interface LoadOptions {
  origin: string
  connections: number
  /** Seconds. */
  duration: number
  /** The sequence connection `i` (0-based) cycles through; called once per connection. */
  connection: (i: number) => Array<Step | Dynamic>
  /** Per-connection request rate (requests/s), for open-ish load; unset = as fast as possible. */
  connectionRate?: number
}

export interface LoadResult {
  /** Responses received within the run. */
  responses: number
  /** Every response's latency (ms), sorted; for merging rounds, never written out. */
  samples: Float64Array
  seconds: number
  rps: number
  /** Milliseconds, over every response (any status). */
  latency: { p50: number, p90: number, p99: number, max: number, mean: number }
  non2xx: number
  errors: number
  timeouts: number
  statusCodes: Record<string, number>
}

const JSON_HEADERS = { 'content-type': 'application/json' }

export function postJson (path: string, body: unknown, headers: Record<string, string> = {}): Step {
  return { method: 'POST', path, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) }
}

function toRequest (step: Step | Dynamic): autocannon.Request {
  if ('build' in step) {
    return {
      // autocannon passes its defaults merged in; only our fields matter.
      setupRequest: (req) => ({ ...req, ...step.build() }),
      ...(step.onResponse === undefined ? {} : { onResponse: (status: number, body: string) => step.onResponse?.(status, body) })
    }
  }
  return { method: step.method, path: step.path, headers: step.headers ?? {}, ...(step.body === undefined ? {} : { body: step.body }) }
}

/** Exact percentile of sorted samples (nearest rank). */
function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? 0
}

/**
 * Runs one autocannon instance for a fixed time. Latencies are recorded here from
 * every response at sub-millisecond resolution (autocannon's own histogram keeps
 * whole milliseconds and only 2xx).
 */
export async function load (options: LoadOptions): Promise<LoadResult> {
  let samples = new Float64Array(1 << 16)
  let count = 0
  let next = 0
  const started = performance.now()
  let finish: (err: Error | null, result: autocannon.Result) => void = () => {}
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (err, result) => { if (err !== null && err !== undefined) reject(err); else resolve(result) }
  })
  const instance = autocannon({
    url: options.origin,
    connections: options.connections,
    duration: options.duration,
    pipelining: 1,
    timeout: 10,
    ...(options.connectionRate === undefined ? {} : { connectionRate: options.connectionRate }),
    setupClient: (client) => {
      client.setRequests(options.connection(next++).map(toRequest))
    }
  }, (err, result) => { finish(err, result) })
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    if (count === samples.length) {
      const grown = new Float64Array(samples.length * 2)
      grown.set(samples)
      samples = grown
    }
    samples[count++] = responseTime
  })
  const result = await done
  const seconds = (performance.now() - started) / 1000
  const statusCodes: Record<string, number> = {}
  for (const [code, stat] of Object.entries((result as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats ?? {})) {
    statusCodes[code] = stat.count
  }
  return summarize(samples.slice(0, count).sort(), seconds, { non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, statusCodes })
}

type Counts = Pick<LoadResult, 'non2xx' | 'errors' | 'timeouts' | 'statusCodes'>

function summarize (sorted: Float64Array, seconds: number, counts: Counts): LoadResult {
  const count = sorted.length
  let sum = 0
  for (const v of sorted) sum += v
  return {
    responses: count,
    samples: sorted,
    seconds,
    rps: seconds > 0 ? count / seconds : 0,
    latency: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: count === 0 ? 0 : sorted[count - 1] ?? 0,
      mean: count === 0 ? 0 : sum / count
    },
    ...counts
  }
}

/** Several runs of one load as one: responses over the summed time, percentiles over every sample. */
export function mergeResults (runs: LoadResult[]): LoadResult {
  const all = new Float64Array(runs.reduce((n, r) => n + r.samples.length, 0))
  let offset = 0
  for (const r of runs) {
    all.set(r.samples, offset)
    offset += r.samples.length
  }
  const statusCodes: Record<string, number> = {}
  for (const r of runs) for (const [code, n] of Object.entries(r.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n
  const sum = (pick: (r: LoadResult) => number): number => runs.reduce((n, r) => n + pick(r), 0)
  return summarize(all.sort(), sum((r) => r.seconds), {
    non2xx: sum((r) => r.non2xx), errors: sum((r) => r.errors), timeouts: sum((r) => r.timeouts), statusCodes
  })
}
