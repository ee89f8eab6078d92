import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { refreshTokenKey } from '../../src/tokens/tokens.js'
import { Client, prng, sleep, subSeed } from './http.js'
import { startServer, stopServer } from './server.js'

/*
 * Crash safety, by experiment. Each round starts the real server on the same
 * data directory, checks everything the previous rounds were told, runs
 * concurrent joins, logins, refreshes, logouts, token reuse and reads, and
 * SIGKILLs the process at a seeded random moment. A client-side model records
 * only what the server acknowledged (a complete response); a request cut by
 * the kill has an unknown outcome and is never counted either way.
 *
 * After each restart:
 * - the database passes PRAGMA integrity_check and foreign_key_check;
 * - every join answered 201 exists, and can log in;
 * - every refresh token answered as revoked (rotated away, logged out, or its
 *   family revoked by reuse detection) is still revoked: verify says
 *   TOKEN_REVOKED and refresh says TOKEN_REVOKED;
 * - every refresh token the server handed out and did not revoke still works;
 * - a token whose fate the kill made unknown is either valid or revoked, never
 *   an error.
 */

export interface CrashOptions {
  dataDir: string
  rounds: number
  seed: number
  /** Concurrent client loops. */
  concurrency: number
  /** Acknowledged operations to wait for before the kill timer starts. */
  minOpsBeforeKill: number
  /** The kill comes a random 0..maxKillDelayMs after that. */
  maxKillDelayMs: number
  synchronous?: 'full' | 'normal'
  log?: (line: string) => void
  /** Called with the database path after each kill, before the restart (the checker's own test tampers here). */
  afterKill?: (dbPath: string) => void
}

export interface RoundReport {
  round: number
  killDelayMs: number
  acknowledged: Record<string, number>
  inFlightAtKill: number
  /** What the checks at this round's start (after the previous kill) covered. */
  checked: { accountsInDb: number, logins: number, liveTokens: number, revokedTokens: number, unknownTokens: number }
}

export interface CrashReport {
  seed: number
  rounds: RoundReport[]
  failures: string[]
}

const PASSWORD = 'crash-Test-passw0rd-7'

interface Family {
  email: string
  current: string
  access: string
  /** Tokens of this family rotated away by an acknowledged refresh. */
  rotated: string[]
  state: 'live' | 'revoked' | 'unknown'
  busy: boolean
}

type Op = 'join' | 'login' | 'refresh' | 'logout' | 'reuse' | 'mypage'
const WEIGHTS: Array<[Op, number]> = [['join', 10], ['login', 5], ['refresh', 35], ['logout', 10], ['reuse', 10], ['mypage', 30]]

function jtiOf (token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { jti: string }
  return payload.jti
}

async function pool<T> (items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T)
  }))
}

export async function runCrashTest (options: CrashOptions): Promise<CrashReport> {
  const { dataDir, rounds, seed, concurrency, minOpsBeforeKill, maxKillDelayMs } = options
  const log = options.log ?? (() => {})
  mkdirSync(dataDir, { recursive: true })
  const dbPath = join(dataDir, 'auth.db')
  const env: Record<string, string> = {
    DATABASE_URL: `file:${dbPath}`,
    LOG_LEVEL: 'info',
    SQLITE_SYNCHRONOUS: options.synchronous ?? 'full',
    // The model is v1's: every replay of a rotated token is theft. (With the
    // grace window a replay soon after its rotation would get the successor
    // back; the sealed successor is written by the rotation's own UPDATE, so it
    // is exactly as durable as the rotation checked here.)
    REFRESH_REUSE_INTERVAL: '0'
  }

  const failures: string[] = []
  const reports: RoundReport[] = []
  const accounts: string[] = []
  let unverifiedAccounts: string[] = []
  const families: Family[] = []
  /** Refresh tokens the server answered as revoked, with why. */
  const revoked = new Map<string, string>()
  let emailCounter = 0

  const fail = (round: number, what: string): void => {
    if (failures.length < 200) failures.push(`round ${round}: ${what}`)
  }
  const revokeFamily = (f: Family, why: string): void => {
    f.state = 'revoked'
    revoked.set(f.current, why)
    for (const t of f.rotated) revoked.set(t, revoked.get(t) ?? why)
  }

  /** Everything the model knows must hold on the restarted server. */
  async function check (round: number, client: Client): Promise<RoundReport['checked']> {
    const checked = { accountsInDb: 0, logins: 0, liveTokens: 0, revokedTokens: 0, unknownTokens: 0 }
    const db = new Database(dbPath, { readonly: true, fileMustExist: true })
    try {
      const integrity = db.pragma('integrity_check', { simple: true })
      if (integrity !== 'ok') fail(round, `integrity_check: ${String(integrity)}`)
      const fk = db.pragma('foreign_key_check') as unknown[]
      if (fk.length > 0) fail(round, `foreign_key_check: ${JSON.stringify(fk).slice(0, 300)}`)
      const userByEmail = db.prepare('SELECT id FROM users WHERE email = ?')
      for (const email of accounts) {
        if (userByEmail.get(email) === undefined) fail(round, `acknowledged join ${email} is missing from the database`)
        else checked.accountsInDb++
      }
      const tokenRow = db.prepare('SELECT revoked_at AS revokedAt FROM refresh_tokens WHERE id = ?')
      for (const [token, why] of revoked) {
        const row = tokenRow.get(refreshTokenKey(jtiOf(token))) as { revokedAt: number | null } | undefined
        if (row === undefined) fail(round, `revoked (${why}) token row is missing`)
        else if (row.revokedAt === null) fail(round, `token answered as revoked (${why}) is live again in the database`)
      }
    } finally {
      db.close()
    }

    // Tokens handed out and never revoked still work.
    await pool(families.filter((f) => f.state === 'live'), concurrency, async (f) => {
      const res = await client.post('/account/token/verify', { token: f.current })
      if (res.status !== 200) fail(round, `live token of ${f.email} lost: verify ${res.status} ${res.body}`)
      else checked.liveTokens++
    })
    // A token whose last operation was cut by the kill is valid or revoked, nothing else.
    await pool(families.filter((f) => f.state === 'unknown'), concurrency, async (f) => {
      const res = await client.post('/account/token/verify', { token: f.current })
      if (res.status !== 200 && res.json?.code !== 'TOKEN_REVOKED') fail(round, `token of unknown fate: verify ${res.status} ${res.body}`)
      else checked.unknownTokens++
    })
    // Revoked stays revoked: verify refuses, and presenting it to refresh is reuse.
    const revokedNow = [...revoked]
    await pool(revokedNow, concurrency, async ([token, why]) => {
      const v = await client.post('/account/token/verify', { token })
      const r = await client.post('/account/token/refresh', { refresh: token })
      if (v.status !== 401 || v.json?.code !== 'TOKEN_REVOKED') fail(round, `revoked (${why}) token: verify ${v.status} ${v.body}`)
      else if (r.status !== 401 || r.json?.code !== 'TOKEN_REVOKED') fail(round, `revoked (${why}) token: refresh ${r.status} ${r.body}`)
      else checked.revokedTokens++
    })
    // That refresh revoked the families of rotated tokens (reuse detection).
    for (const f of families) if (f.state !== 'revoked' && f.rotated.length > 0) revokeFamily(f, 'family of a reused token')
    // Every acknowledged join can log in (each once; the database check covers the rest).
    await pool(unverifiedAccounts, concurrency, async (email) => {
      const res = await client.post('/account/login', { email, password: PASSWORD })
      if (res.status !== 200) fail(round, `acknowledged join ${email} cannot log in: ${res.status} ${res.body}`)
      else {
        checked.logins++
        families.push({ email, current: res.json.refresh, access: res.json.access, rotated: [], state: 'live', busy: false })
      }
    })
    unverifiedAccounts = []
    return checked
  }

  for (let round = 1; round <= rounds + 1; round++) {
    const server = await startServer(env)
    const client = new Client(server.url, concurrency * 2)
    try {
      const checked = await check(round - 1, client)
      if (round === rounds + 1) {
        log(`final check: ${JSON.stringify(checked)}`)
        reports.push({ round, killDelayMs: 0, acknowledged: {}, inFlightAtKill: 0, checked })
        const { code } = await stopServer(server, 'SIGTERM')
        if (code !== 0) fail(round, `clean shutdown exited ${String(code)}`)
        break
      }

      const rng = prng(subSeed(seed, round))
      const pick = <T>(list: T[]): T | undefined => list.length === 0 ? undefined : list[Math.floor(rng() * list.length)]
      const acknowledged: Record<string, number> = {}
      let ackTotal = 0
      let inFlight = 0
      let stopping = false
      const ack = (op: string): void => { acknowledged[op] = (acknowledged[op] ?? 0) + 1; ackTotal++ }

      const chooseOp = (): Op => {
        let r = rng() * 100
        for (const [op, w] of WEIGHTS) { if ((r -= w) < 0) return op }
        return 'mypage'
      }

      const step = async (): Promise<void> => {
        let op = chooseOp()
        const idle = families.filter((f) => f.state === 'live' && !f.busy)
        if (op !== 'join' && op !== 'login' && idle.length === 0) op = 'join'
        if (op === 'login' && accounts.length === 0) op = 'join'
        if (op === 'reuse' && !idle.some((f) => f.rotated.length > 0)) op = 'refresh'
        inFlight++
        try {
          if (op === 'join') {
            const email = `crash-${seed}-${++emailCounter}@example.com`
            let res
            try { res = await client.post('/account/join', { email, password: PASSWORD }) } catch { return }
            if (res.status !== 201) { fail(round, `join ${res.status} ${res.body}`); return }
            accounts.push(email)
            unverifiedAccounts.push(email)
            families.push({ email, current: res.json.refresh, access: res.json.access, rotated: [], state: 'live', busy: false })
            ack(op)
          } else if (op === 'login') {
            const email = pick(accounts)!
            let res
            try { res = await client.post('/account/login', { email, password: PASSWORD }) } catch { return }
            if (res.status !== 200) { fail(round, `login ${res.status} ${res.body}`); return }
            families.push({ email, current: res.json.refresh, access: res.json.access, rotated: [], state: 'live', busy: false })
            ack(op)
          } else if (op === 'mypage') {
            const f = pick(families)!
            let res
            // An ended session's access token is refused (logout, reuse: its
            // session ended, also across the restarts); a live one's accepted;
            // one whose fate is open (an operation in flight, or cut by a kill) either.
            const settled = f.state === 'revoked' || (f.state === 'live' && !f.busy)
            const expected = f.state === 'revoked' ? 401 : 200
            try { res = await client.get('/account/mypage', { authorization: `Bearer ${f.access}` }) } catch { return }
            const refused = res.status === 401 && res.json?.code === 'TOKEN_REVOKED'
            if (settled ? res.status !== expected || (expected === 401 && !refused) : res.status !== 200 && !refused) { fail(round, `mypage (${f.state}) ${res.status} ${res.body}`); return }
            ack(op)
          } else {
            const f = op === 'reuse' ? pick(idle.filter((x) => x.rotated.length > 0))! : pick(idle)!
            f.busy = true
            try {
              if (op === 'refresh') {
                let res
                try { res = await client.post('/account/token/refresh', { refresh: f.current }) } catch { f.state = 'unknown'; return }
                if (res.status !== 200) { fail(round, `refresh ${res.status} ${res.body}`); f.state = 'unknown'; return }
                revoked.set(f.current, 'rotated away')
                f.rotated.push(f.current)
                f.current = res.json.refresh
                f.access = res.json.access
              } else if (op === 'logout') {
                let res
                try { res = await client.post('/account/logout', { refresh: f.current }) } catch { f.state = 'unknown'; return }
                if (res.status !== 200) { fail(round, `logout ${res.status} ${res.body}`); f.state = 'unknown'; return }
                revokeFamily(f, 'logged out')
              } else {
                const stolen = pick(f.rotated)!
                let res
                try { res = await client.post('/account/token/refresh', { refresh: stolen }) } catch { f.state = 'unknown'; return }
                if (res.status !== 401 || res.json?.code !== 'TOKEN_REVOKED') { fail(round, `reuse of a rotated token: ${res.status} ${res.body}`); f.state = 'unknown'; return }
                revokeFamily(f, 'family revoked by reuse detection')
              }
              ack(op)
            } finally {
              f.busy = false
            }
          }
        } finally {
          inFlight--
        }
      }

      const workers = Array.from({ length: concurrency }, async () => {
        while (!stopping) await step()
      })
      while (ackTotal < minOpsBeforeKill && failures.length === 0) await sleep(10)
      const killDelayMs = Math.floor(rng() * maxKillDelayMs)
      await sleep(killDelayMs)
      const inFlightAtKill = inFlight
      stopping = true
      const { signal } = await stopServer(server, 'SIGKILL')
      if (signal !== 'SIGKILL') fail(round, `server was not killed (${String(signal)})`)
      await Promise.all(workers)
      options.afterKill?.(dbPath)
      const report: RoundReport = { round, killDelayMs, acknowledged, inFlightAtKill, checked }
      reports.push(report)
      log(`round ${round}: killed ${killDelayMs} ms after ${minOpsBeforeKill} ops with ${inFlightAtKill} in flight; acknowledged ${JSON.stringify(acknowledged)}; checked at start: ${JSON.stringify(checked)}`)
    } finally {
      client.close()
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
    }
  }

  return { seed, rounds: reports, failures }
}
