import { login, mapLimit, PASSWORD, type Session } from './api.js'
import { load, postJson, type Dynamic, type LoadResult, type Step } from './load.js'

/** What a scenario needs: where to send, how hard, and the users made before timing. */
export interface Context {
  origin: string
  connections: number
  /** Seconds measured per scenario. */
  duration: number
  /** Seconds of the same load, unmeasured, before each measured run. */
  warmup: number
  /** Emails of the users created before timing (one per connection). */
  users: string[]
  /** Unique per bench run, so that a target can be benchmarked again. */
  runId: string
  log: (line: string) => void
  /** CPU seconds the service has used so far, when the bench runs it. */
  serviceCpu?: () => number | undefined
  /** With --profile: starts and stops the service's CPU profiler around a measured run. */
  profiler?: { start: () => Promise<void>, stop: () => Promise<void> }
}

export type Connection = (i: number) => Array<Step | Dynamic>

export interface Measured extends LoadResult {
  /** Service CPU time per response in the measured run, µs (when the bench runs the service). */
  cpuUsPerRequest?: number
  /** Scenario-specific figures (the storm's idle phase, the mix, …). */
  extra?: Record<string, unknown>
}

export interface Scenario {
  name: string
  about: string
  run: (ctx: Context) => Promise<Measured>
}

/** One fresh login per connection: a new token family each, made before timing. */
export async function sessions (ctx: Context, n = ctx.connections): Promise<Session[]> {
  return await mapLimit(n, 8, async (i) => await login(ctx.origin, ctx.users[i % ctx.users.length] ?? ''))
}

/**
 * Warm-up then the measured run of the same load. `prepare` is called before
 * each, so stateful scenarios start both from fresh sessions: a run ends with a
 * request in flight on every connection, whose token the server may have
 * rotated, so a chain is never carried over from one run to the next.
 */
async function measure (ctx: Context, prepare: () => Promise<Connection>): Promise<Measured> {
  if (ctx.warmup > 0) await load({ origin: ctx.origin, connections: ctx.connections, duration: ctx.warmup, connection: await prepare() })
  const connection = await prepare()
  return await withCpu(ctx, async () => await load({ origin: ctx.origin, connections: ctx.connections, duration: ctx.duration, connection }))
}

/** Runs `run`, adding the service's CPU time per response over it (and profiling it with --profile). */
async function withCpu (ctx: Context, run: () => Promise<LoadResult>, profile = true): Promise<Measured> {
  if (profile) await ctx.profiler?.start()
  const before = ctx.serviceCpu?.()
  const result = await run()
  const after = ctx.serviceCpu?.()
  if (profile) await ctx.profiler?.stop()
  if (before === undefined || after === undefined || result.responses === 0) return result
  return { ...result, cpuUsPerRequest: ((after - before) * 1e6) / result.responses }
}

const bearer = (access: string): Record<string, string> => ({ authorization: `Bearer ${access}` })
const REFRESH_IN_BODY = /"refresh":"([^"]+)"/
const ACCESS_IN_BODY = /"access":"([^"]+)"/

/** Sessions for scenarios that only read with an access token; reused for a minute (tokens live 5). */
let cached: { at: number, origin: string, list: Session[] } | undefined
async function readSessions (ctx: Context): Promise<Session[]> {
  if (cached === undefined || cached.origin !== ctx.origin || cached.list.length < ctx.connections || Date.now() - cached.at > 60_000) {
    cached = { at: Date.now(), origin: ctx.origin, list: await sessions(ctx) }
  }
  return cached.list
}

const at = <T>(list: T[], i: number): T => list[i % list.length] as T

/** A connection following its own rotation chain: each refresh sends the token the previous one returned. */
function refreshChain (start: Session): Dynamic {
  let token = start.refresh
  return {
    build: () => postJson('/account/token/refresh', { refresh: token }),
    onResponse: (status, body) => {
      const next = status === 200 ? REFRESH_IN_BODY.exec(body)?.[1] : undefined
      if (next !== undefined) token = next
    }
  }
}

export const refreshScenario = (name: string, about: string): Scenario => ({
  name,
  about,
  run: async (ctx) => await measure(ctx, async () => {
    const list = await sessions(ctx)
    return (i) => [refreshChain(at(list, i))]
  })
})

/** Per 200 requests of one connection: 1 login, 10 refreshes, 189 mypage. */
const MIX = { length: 200, loginAt: 0, refreshEvery: 20 }

function mixedConnection (start: Session, phase: number): Array<Step | Dynamic> {
  let access = start.access
  let refresh = start.refresh
  const take = (status: number, body: string): void => {
    if (status !== 200) return
    access = ACCESS_IN_BODY.exec(body)?.[1] ?? access
    refresh = REFRESH_IN_BODY.exec(body)?.[1] ?? refresh
  }
  const steps: Dynamic[] = []
  for (let k = 0; k < MIX.length; k++) {
    if (k === MIX.loginAt) {
      // A new login starts a new chain; the old one is simply no longer used.
      steps.push({ build: () => postJson('/account/login', { email: start.email, password: PASSWORD }), onResponse: take })
    } else if (k % MIX.refreshEvery === MIX.refreshEvery / 2) {
      steps.push({ build: () => postJson('/account/token/refresh', { refresh }), onResponse: take })
    } else {
      steps.push({ build: () => ({ method: 'GET', path: '/account/mypage', headers: bearer(access) }) })
    }
  }
  // Connections start at different points of the cycle, so logins do not come in waves.
  return [...steps.slice(phase), ...steps.slice(0, phase)]
}

export const scenarios: Scenario[] = [
  {
    name: 'health',
    about: 'GET /health: routing, hooks and serialization only (the ceiling)',
    run: async (ctx) => await measure(ctx, async () => () => [{ method: 'GET', path: '/health' }])
  },
  {
    name: 'mypage',
    about: 'GET /account/mypage with Authorization: Bearer (a user per connection)',
    run: async (ctx) => await measure(ctx, async () => {
      const list = await readSessions(ctx)
      return (i) => [{ method: 'GET', path: '/account/mypage', headers: bearer(at(list, i).access) }]
    })
  },
  {
    name: 'mypage-cookie',
    about: 'GET /account/mypage with the cookies a browser sends (access_token, refresh_token, csrf_token)',
    run: async (ctx) => await measure(ctx, async () => {
      const list = await readSessions(ctx)
      return (i) => [{ method: 'GET', path: '/account/mypage', headers: { cookie: at(list, i).cookie } }]
    })
  },
  {
    name: 'verify',
    about: 'POST /account/token/verify {token: <access>}',
    run: async (ctx) => await measure(ctx, async () => {
      const list = await readSessions(ctx)
      return (i) => [postJson('/account/token/verify', { token: at(list, i).access })]
    })
  },
  refreshScenario('refresh', 'POST /account/token/refresh: each connection follows its own rotation chain'),
  {
    name: 'login',
    about: 'POST /account/login, a user per connection (bounded by the password hash)',
    run: async (ctx) => await measure(ctx, async () => (i) => [postJson('/account/login', { email: at(ctx.users, i), password: PASSWORD })])
  },
  {
    name: 'join',
    about: 'POST /account/join, a new user per request (bounded by the password hash)',
    run: async (ctx) => {
      let n = 0
      return await measure(ctx, async () => () => [{
        build: () => postJson('/account/join', { email: `j${++n}-${ctx.runId}@bench.example.com`, password: PASSWORD })
      }])
    }
  },
  {
    name: 'mixed',
    about: `per connection, cycling: 94.5% mypage, 5% refresh (own chain), 0.5% login`,
    run: async (ctx) => {
      const result = await measure(ctx, async () => {
        const list = await sessions(ctx)
        return (i) => mixedConnection(at(list, i), Math.floor((i * MIX.length) / ctx.connections))
      })
      return { ...result, extra: { mix: { mypage: 189, refresh: 10, login: 1, per: MIX.length } } }
    }
  },
  {
    name: 'mypage-under-login-storm',
    about: 'mypage as above while as many connections log in at full speed; compared with mypage alone just before',
    run: async (ctx) => {
      const list = await readSessions(ctx)
      const mypage: Connection = (i) => [{ method: 'GET', path: '/account/mypage', headers: bearer(at(list, i).access) }]
      const loginStorm: Connection = (i) => [postJson('/account/login', { email: at(ctx.users, i), password: PASSWORD })]
      const run = async (connection: Connection, duration: number): Promise<LoadResult> =>
        await load({ origin: ctx.origin, connections: ctx.connections, duration, connection })
      if (ctx.warmup > 0) await run(mypage, ctx.warmup)
      const idle = await withCpu(ctx, async () => await run(mypage, ctx.duration), false)
      // The storm starts first and outlasts the measured mypage run on both ends.
      const storm = run(loginStorm, ctx.duration + 2)
      await new Promise((resolve) => setTimeout(resolve, 1000))
      // Its CPU per request counts the logins' main-thread work too.
      const busy = await withCpu(ctx, async () => await run(mypage, ctx.duration))
      const logins = await storm
      return {
        ...busy,
        // Every request of the scenario counts: the idle phase and the storm's logins too.
        non2xx: idle.non2xx + busy.non2xx + logins.non2xx,
        errors: idle.errors + busy.errors + logins.errors,
        timeouts: idle.timeouts + busy.timeouts + logins.timeouts,
        extra: {
          idle: summary(idle),
          login: summary(logins),
          p99Ratio: busy.latency.p99 / idle.latency.p99,
          rpsRatio: busy.rps / idle.rps
        }
      }
    }
  }
]

export function summary (r: LoadResult): Record<string, unknown> {
  return { rps: r.rps, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, non2xx: r.non2xx, errors: r.errors }
}
