import http from 'node:http'

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  /** The parsed body when it is JSON, else undefined. */
  json: any
}

export interface RequestOptions {
  json?: unknown
  /** A raw body (sent as is, with the given headers). */
  body?: string | Buffer
  headers?: Record<string, string>
}

/**
 * A tiny HTTP/1.1 client on one keep-alive agent (so that connection reuse,
 * and its races with shutdown, are real). Node's own `http`, no dependency.
 */
export class Client {
  readonly agent: http.Agent
  constructor (readonly base: string, maxSockets = 16) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets })
  }

  async request (method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers }
    let payload: string | Buffer | undefined = options.body
    if (options.json !== undefined) {
      payload = JSON.stringify(options.json)
      headers['content-type'] ??= 'application/json'
    }
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload))
    const url = new URL(path, this.base)
    return await new Promise<Reply>((resolve, reject) => {
      const req = http.request(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          let json: unknown
          if (/json/.test(String(res.headers['content-type']))) {
            try { json = JSON.parse(body) } catch { json = undefined }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json })
        })
      })
      req.on('error', reject)
      req.end(payload)
    })
  }

  async post (path: string, json: unknown, headers?: Record<string, string>): Promise<Reply> {
    return await this.request('POST', path, { json, headers })
  }

  async get (path: string, headers?: Record<string, string>): Promise<Reply> {
    return await this.request('GET', path, { headers })
  }

  close (): void { this.agent.destroy() }
}

/** Seeded PRNG (mulberry32): the same seed gives the same run. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Derives a sub-seed (e.g. per round or per worker) from a seed. */
export function subSeed (seed: number, n: number): number {
  return prng((seed ^ Math.imul(n + 1, 0x9E3779B1)) >>> 0)() * 4294967296 >>> 0
}

/** `CRASH_SEED=123`-style numeric env knobs with a default. */
export function envNumber (name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${raw}"`)
  return n
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))
