import { login, mapLimit, PASSWORD, type Session } from './api.js'
import { load, mergeResults, postJson, type Dynamic, type LoadResult, type Step } from './load.js'

/** What a scenario needs: where to send, how hard, and the users made before timing. */
export interface Context {
  origin: string
  connections: number
  /** Seconds measured per scenario, over all its rounds. */
  duration: number
  /** Rounds the duration is cut into (interleaved with the other scenarios' by run.ts). */
  rounds: number
  /** Seconds of the same load, unmeasured, before a scenario's first round. */
  warmup: number
  /** Emails of the users created before timing (one per connection). */
  users: string[]
  /** Unique per bench run, so that a target can be benchmarked again. */
  runId: string
  log: (line: string) => void
  /**
   * Access tokens of many distinct users (--users N, issued by `seed --tokens`
   * before timing): the working-set scenarios send the next one with each request.
   */
  manyTokens?: string[]
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

/**
 * A scenario either measures in rounds — run.ts interleaves the rounds of all
 * scenarios (health, mypage, …, health, mypage, …) so that a drift in the
 * machine's speed hits them all alike — or measures `whole`, with phases of
 * its own (the login storm alternates its idle and storm phases itself).
 */
export interface Scenario {
  name: string
  about: string
  /** One run of `seconds` from fresh sessions; `measured` false is the warm-up (no CPU, no profile). */
  round?: (ctx: Context, seconds: number, measured: boolean) => Promise<Measured>
  whole?: (ctx: Context) => Promise<Measured>
  extra?: Record<string, unknown>
}

/** One fresh login per connection: a new token family each, made before timing. */
export async function sessions (ctx: Context, n = ctx.connections): Promise<Session[]> {
  return await mapLimit(n, 8, async (i) => await login(ctx.origin, ctx.users[i % ctx.users.length] ?? ''))
}

/**
 * A round of `prepare`'s load. `prepare` runs before every round, so stateful
 * scenarios always start from fresh sessions: a run ends with a request in
 * flight on every connection, whose token the server may have rotated, so a
 * chain is never carried over from one run to the next.
 */
const rounds = (prepare: (ctx: Context) => Promise<Connection>) =>
  async (ctx: Context, seconds: number, measured: boolean): Promise<Measured> => {
    const connection = await prepare(ctx)
    const run = async (): Promise<LoadResult> => await load({ origin: ctx.origin, connections: ctx.connections, duration: seconds, connection })
    return measured ? await withCpu(ctx, run) : await run()
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

/** Rounds of one scenario as one result; CPU per request weighted by responses. */
export function mergeMeasured (runs: Measured[]): Measured {
  const merged: Measured = mergeResults(runs)
  const withCpuFigures = runs.filter((r) => r.cpuUsPerRequest !== undefined)
  if (withCpuFigures.length === runs.length && merged.responses > 0) {
    merged.cpuUsPerRequest = runs.reduce((sum, r) => sum + (r.cpuUsPerRequest ?? 0) * r.responses, 0) / merged.responses
  }
  return merged
}

const bearer = (access: string): Record<string, string> => ({ authorization: `Bearer ${access}` })
const REFRESH_IN_BODY = /"refresh":"([^"]+)"/
const ACCESS_IN_BODY = /"access":"([^"]+)"/

/** Sessions for scenarios that only read with an access token; reused for a minute (tokens live 5). */
const cached = new Map<string, { at: number, list: Session[] }>()
async function readSessions (ctx: Context): Promise<Session[]> {
  const hit = cached.get(ctx.origin)
  if (hit !== undefined && hit.list.length >= ctx.connections && Date.now() - hit.at < 60_000) return hit.list
  const list = await sessions(ctx)
  cached.set(ctx.origin, { at: Date.now(), list })
  return list
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
  round: rounds(async (ctx) => {
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

let joined = 0

/**
 * A connection of a working-set scenario: each request carries the next of the
 * many users' tokens, connections starting at spread-out points of the list,
 * so every token comes back only after all the others (the worst case for the
 * service's caches, as a load test with that many users is).
 */
function manyUsers (request: (access: string) => Step) {
  return rounds(async (ctx) => {
    const tokens = ctx.manyTokens ?? []
    if (tokens.length === 0) throw new Error('no tokens of many users: the working-set scenarios need the bench to start the service (not --target)')
    return (i) => {
      let next = Math.floor((i * tokens.length) / ctx.connections)
      return [{ build: () => request(at(tokens, next++)) }]
    }
  })
}

export const scenarios: Scenario[] = [
  {
    name: 'ceiling',
    about: 'GET /health on a bare Fastify 5 server (no plugins, no logging; bench/bare-server.mjs) started and loaded like the service',
    round: rounds(async () => () => [{ method: 'GET', path: '/health' }])
  },
  {
    name: 'health',
    about: 'GET /health: routing, hooks (security headers, CORS, cookies, request id, logging) and serialization only',
    round: rounds(async () => () => [{ method: 'GET', path: '/health' }])
  },
  {
    name: 'mypage',
    about: 'GET /account/mypage with Authorization: Bearer (a user per connection)',
    round: rounds(async (ctx) => {
      const list = await readSessions(ctx)
      return (i) => [{ method: 'GET', path: '/account/mypage', headers: bearer(at(list, i).access) }]
    })
  },
  {
    name: 'mypage-cookie',
    about: 'GET /account/mypage with the cookies a browser sends (access_token, refresh_token, csrf_token)',
    round: rounds(async (ctx) => {
      const list = await readSessions(ctx)
      return (i) => [{ method: 'GET', path: '/account/mypage', headers: { cookie: at(list, i).cookie } }]
    })
  },
  {
    name: 'forward-auth',
    about: 'GET /account/forward-auth with Authorization: Bearer, as a gateway\'s auth subrequest (nginx auth_request)',
    round: rounds(async (ctx) => {
      const list = await readSessions(ctx)
      return (i) => [{ method: 'GET', path: '/account/forward-auth', headers: bearer(at(list, i).access) }]
    })
  },
  {
    name: 'verify',
    about: 'POST /account/token/verify {token: <access>}',
    round: rounds(async (ctx) => {
      const list = await readSessions(ctx)
      return (i) => [postJson('/account/token/verify', { token: at(list, i).access })]
    })
  },
  {
    name: 'mypage-many-users',
    about: 'GET /account/mypage, each request with the next of --users distinct users\' tokens',
    round: manyUsers((access) => ({ method: 'GET', path: '/account/mypage', headers: bearer(access) }))
  },
  {
    name: 'forward-auth-many-users',
    about: 'GET /account/forward-auth as above, each request with the next of --users distinct users\' tokens',
    round: manyUsers((access) => ({ method: 'GET', path: '/account/forward-auth', headers: bearer(access) }))
  },
  {
    name: 'verify-many-users',
    about: 'POST /account/token/verify as above, each request with the next of --users distinct users\' tokens',
    round: manyUsers((access) => postJson('/account/token/verify', { token: access }))
  },
  refreshScenario('refresh', 'POST /account/token/refresh: each connection follows its own rotation chain'),
  {
    name: 'login',
    about: 'POST /account/login, a user per connection (bounded by the password hash)',
    round: rounds(async (ctx) => (i) => [postJson('/account/login', { email: at(ctx.users, i), password: PASSWORD })])
  },
  {
    name: 'join',
    about: 'POST /account/join, a new user per request (bounded by the password hash)',
    round: rounds(async (ctx) => () => [{
      build: () => postJson('/account/join', { email: `j${++joined}-${ctx.runId}@bench.example.com`, password: PASSWORD })
    }])
  },
  {
    name: 'mixed',
    about: 'per connection, cycling: 94.5% mypage, 5% refresh (own chain), 0.5% login',
    extra: { mix: { mypage: 189, refresh: 10, login: 1, per: MIX.length } },
    round: rounds(async (ctx) => {
      const list = await sessions(ctx)
      return (i) => mixedConnection(at(list, i), Math.floor((i * MIX.length) / ctx.connections))
    })
  },
  {
    name: 'mypage-under-login-storm',
    about: 'mypage as above while as many connections log in at full speed, alternating with mypage alone',
    whole: async (ctx) => {
      const list = await readSessions(ctx)
      const mypage: Connection = (i) => [{ method: 'GET', path: '/account/mypage', headers: bearer(at(list, i).access) }]
      const loginStorm: Connection = (i) => [postJson('/account/login', { email: at(ctx.users, i), password: PASSWORD })]
      const run = async (connection: Connection, duration: number): Promise<LoadResult> =>
        await load({ origin: ctx.origin, connections: ctx.connections, duration, connection })
      const seconds = ctx.duration / ctx.rounds
      if (ctx.warmup > 0) await run(mypage, ctx.warmup)
      const idle: Measured[] = []
      const busy: Measured[] = []
      const logins: LoadResult[] = []
      for (let r = 0; r < ctx.rounds; r++) {
        idle.push(await withCpu(ctx, async () => await run(mypage, seconds), false))
        // The storm starts first and outlasts the measured mypage run on both ends.
        const storm = run(loginStorm, seconds + 2)
        await new Promise((resolve) => setTimeout(resolve, 1000))
        // Its CPU per request counts the logins' main-thread work too.
        busy.push(await withCpu(ctx, async () => await run(mypage, seconds)))
        logins.push(await storm)
      }
      const [alone, beside, storms] = [mergeMeasured(idle), mergeMeasured(busy), mergeResults(logins)]
      return {
        ...beside,
        // Every request of the scenario counts: the idle phases and the storms' logins too.
        non2xx: alone.non2xx + beside.non2xx + storms.non2xx,
        errors: alone.errors + beside.errors + storms.errors,
        timeouts: alone.timeouts + beside.timeouts + storms.timeouts,
        extra: {
          idle: summary(alone),
          login: summary(storms),
          p99Ratio: beside.latency.p99 / alone.latency.p99,
          rpsRatio: beside.rps / alone.rps
        }
      }
    }
  }
]

export function summary (r: LoadResult): Record<string, unknown> {
  return { rps: r.rps, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, non2xx: r.non2xx, errors: r.errors }
}
