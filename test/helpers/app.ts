import { createHmac } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import type { NewRefreshToken, Store } from '../../src/db/store.js'
import { migrationsDir } from '../../src/paths.js'

/** A temp directory removed when the test ends. */
export function tempDir (t: Test): string {
  const dir = mkdtempSync(joinPath(tmpdir(), 'auth-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Resolves after the current turn of the event loop (setImmediate). */
export async function nextTurn (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}

/** The config a test runs with: a real SQLite file in a temp dir, plain-http cookies, quiet logs. */
export function testConfig (t: Test, env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig({
    DATABASE_URL: `file:${joinPath(tempDir(t), 'auth.db')}`,
    LOG_LEVEL: 'silent',
    COOKIE_SECURE: 'false',
    RATE_LIMIT_LOGIN_MAX: '1000',
    RATE_LIMIT_JOIN_MAX: '1000',
    RATE_LIMIT_MAIL_MAX: '1000',
    // No event-loop load shedding unless a test asks for it: on a loaded CI
    // machine a stall past any threshold sheds requests the test examines.
    PRESSURE_MAX_EVENT_LOOP_DELAY: '0',
    ...env
  })
}

/** The SQLite file of a config (testConfig's, unless DATABASE_URL named PostgreSQL). */
export function sqlitePath (config: Config): string {
  if (config.database.kind !== 'sqlite') throw new Error(`not a SQLite config: ${config.database.kind}`)
  return config.database.path
}

/** The captured log lines (captureLogs) of one audit `event`, parsed. */
export const logEvents = (logs: string[], event: string): Array<Record<string, unknown>> =>
  logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === event)

/** A stream for `buildApp`'s `logStream` that keeps every line written to it, as text. */
export function captureLogs (): { logs: string[], logStream: Writable } {
  const logs: string[] = []
  return { logs, logStream: new Writable({ write (chunk, _enc, done) { logs.push(String(chunk)); done() } }) }
}

export interface Built { app: FastifyInstance, config: Config, logs: string[] }

/** Builds the app (never listening) and closes it when the test ends. */
export async function build (t: Test, env: NodeJS.ProcessEnv = {}, config = testConfig(t, env)): Promise<FastifyInstance> {
  return (await buildWithLogs(t, env, config)).app
}

/** As `build`, capturing every log line (at `LOG_LEVEL`, default info here) as text. */
export async function buildWithLogs (t: Test, env: NodeJS.ProcessEnv = {}, config = testConfig(t, { LOG_LEVEL: 'info', ...env })): Promise<Built> {
  const { logs, logStream } = captureLogs()
  const app = await buildApp(config, { logStream })
  t.teardown(() => app.close())
  await app.ready()
  return { app, config, logs }
}

export const PASSWORD = 'correct-Horse-battery-9'
/** A second strong password, for changes and resets. */
export const NEW_PASSWORD = 'another-Long-phrase-82'
let counter = 0
export const uniqueEmail = (): string => `user${++counter}-${process.pid}@example.com`

export interface Session { access: string, refresh: string, csrf: string, cookies: Record<string, string>, user: Record<string, unknown>, email: string }

/** Cookies of a response as name → value. */
export function cookiesOf (res: LightMyRequestResponse): Record<string, string> {
  return Object.fromEntries(res.cookies.map((c) => [c.name, c.value]))
}

export async function join (app: FastifyInstance, body: Record<string, unknown> = {}): Promise<Session> {
  const email = (body.email as string | undefined) ?? uniqueEmail()
  const res = await app.inject({ method: 'POST', url: '/account/join', payload: { email, password: PASSWORD, ...body } })
  if (res.statusCode !== 201) throw new Error(`join failed: ${res.statusCode} ${res.body}`)
  const json = res.json()
  const cookies = cookiesOf(res)
  return { access: json.access, refresh: json.refresh, user: json.user, email, cookies, csrf: cookies.csrf_token ?? '' }
}

export const post = async (app: FastifyInstance, url: string, payload?: unknown, headers: Record<string, string> = {}, cookies?: Record<string, string>) =>
  await app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers, cookies })

/** POST /account/login, from `remoteAddress` when given (rate limits count per client address). */
export const login = async (app: FastifyInstance, email: string, password = PASSWORD, remoteAddress?: string) =>
  await app.inject({ method: 'POST', url: '/account/login', payload: { email, password }, ...(remoteAddress === undefined ? {} : { remoteAddress }) })

/** Resolves once `check()` holds, looking every 10 ms; throws after `ms` naming `what`. */
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export const refresh = async (app: FastifyInstance, token: string) => await post(app, '/account/token/refresh', { refresh: token })

export const bearer = (access: string): Record<string, string> => ({ authorization: `Bearer ${access}` })

/** GET /account/mypage with `access` as the Bearer token. */
export const mypage = async (app: FastifyInstance, access: string) => await app.inject({ url: '/account/mypage', headers: bearer(access) })

/** PATCH /account/mypage (a profile edit) with `headers` as given: no credentials unless they carry them. */
export const patchMypage = async (app: FastifyInstance, payload: unknown, headers: Record<string, string>) =>
  await app.inject({ method: 'PATCH', url: '/account/mypage', payload: payload as Record<string, unknown>, headers })

/** DELETE /account/mypage (the account's deletion) with `headers` as given. */
export const deleteMypage = async (app: FastifyInstance, payload: unknown, headers: Record<string, string>) =>
  await app.inject({ method: 'DELETE', url: '/account/mypage', payload: payload as Record<string, unknown>, headers })

/** Decodes a JWT's header and payload without checking anything. */
export function decodeJwt (token: string): { header: Record<string, unknown>, payload: Record<string, unknown> } {
  const [h, p] = token.split('.')
  return { header: JSON.parse(Buffer.from(h ?? '', 'base64url').toString()), payload: JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) }
}

/** Signs arbitrary header/payload with HMAC-SHA256 (for forged, expired or odd tokens). */
export function forgeJwt (header: Record<string, unknown>, payload: Record<string, unknown>, secret: string, algorithm = 'sha256'): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
  const body = `${enc(header)}.${enc(payload)}`
  return `${body}.${createHmac(algorithm, secret).update(body).digest('base64url')}`
}

/** The current time as a JWT's `iat`/`exp` count it: whole seconds since the epoch. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/**
 * Stores a refresh token the way the service does: as a login of its user
 * (last_login set to the token's creation time, in the same transaction).
 */
export async function storeToken (store: Store, token: NewRefreshToken): Promise<void> {
  await store.users.recordLogin(token.userId, new Date(token.createdAt * 1000), undefined, token)
}

/** drizzle-kit's journal of a dialect's migrations (one entry per migration, in order). */
export function migrationJournal (kind: keyof typeof migrationsDir): { entries: Array<{ tag: string }> } {
  return JSON.parse(readFileSync(joinPath(migrationsDir[kind], 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }
}
