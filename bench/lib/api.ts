/** Just enough of the API (docs/API.md) to prepare users and sessions before timing. */

export const PASSWORD = 'bench-Horse-battery-9'

export interface Session {
  email: string
  access: string
  refresh: string
  /** The Cookie header a browser would send to /account/… after this login. */
  cookie: string
}

export class ApiError extends Error {}

async function call (origin: string, path: string, body: unknown): Promise<{ status: number, json: Record<string, unknown>, setCookies: string[] }> {
  const res = await fetch(origin + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  const text = await res.text()
  let json: Record<string, unknown> = {}
  try { json = JSON.parse(text) as Record<string, unknown> } catch {}
  return { status: res.status, json, setCookies: res.headers.getSetCookie() }
}

function session (email: string, r: { json: Record<string, unknown>, setCookies: string[] }): Session {
  const { access, refresh } = r.json
  if (typeof access !== 'string' || typeof refresh !== 'string') throw new ApiError(`no tokens in the answer for ${email}`)
  const cookie = r.setCookies.map((c) => c.split(';')[0] ?? '').filter((c) => c !== '').join('; ')
  return { email, access, refresh, cookie }
}

export async function join (origin: string, email: string): Promise<Session> {
  const r = await call(origin, '/account/join', { email, password: PASSWORD })
  if (r.status !== 201) throw new ApiError(`join ${email}: ${r.status} ${JSON.stringify(r.json)}`)
  return session(email, r)
}

export async function login (origin: string, email: string): Promise<Session> {
  const r = await call(origin, '/account/login', { email, password: PASSWORD })
  if (r.status !== 200) {
    const hint = r.status === 429 ? ' (the target must run with raised RATE_LIMIT_LOGIN_MAX)' : ''
    throw new ApiError(`login ${email}: ${r.status} ${JSON.stringify(r.json)}${hint}`)
  }
  return session(email, r)
}

/** Runs `fn(0..n-1)` with at most `concurrency` in flight. */
export async function mapLimit<T> (n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++
      out[i] = await fn(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker))
  return out
}

export async function waitForHealth (origin: string, timeoutMs: number, intervalMs = 5): Promise<number> {
  const start = performance.now()
  for (;;) {
    try {
      const res = await fetch(origin + '/health')
      await res.arrayBuffer()
      if (res.status === 200) return performance.now() - start
    } catch {}
    if (performance.now() - start > timeoutMs) throw new Error(`${origin}/health did not answer 200 within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
