import { execFileSync, spawn } from 'node:child_process'
import { closeSync, cpSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, statfsSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import Database from 'better-sqlite3'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { loadConfig } from '../../src/config.js'
import { domainError } from '../../src/db/sqlite/errors.js'
import { projectRoot } from '../../src/paths.js'
import { bearer, build, join, login, PASSWORD, post, type Session, tempDir, uniqueEmail } from '../helpers/app.js'
import { cli } from '../helpers/cli.js'

/*
 * Storage faults: a locked database, a full disk, a read-only file system, a
 * data directory that cannot be created. At start: one clear line and exit 1.
 * At run time: 503 SERVICE_UNAVAILABLE with Retry-After in the contract's
 * shape, never a 500, and nothing half-written — after the fault clears, every
 * refused operation can be repeated and behaves as if it never happened.
 */

const NEW_PASSWORD = 'brand-New-passw0rd-5'

function assertUnavailable (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 503, `${what}: 503 (${res.body.slice(0, 200)})`)
  t.match(res.json(), { statusCode: 503, error: 'Service Unavailable', code: 'SERVICE_UNAVAILABLE', message: String }, `${what}: contract shape`)
  t.ok(Number(res.headers['retry-after']) >= 1, `${what}: Retry-After`)
  t.notMatch(res.body, /SQLITE|at .*\.(js|ts):\d+/, `${what}: no internals`)
}

/** A tmpfs of `size` bytes mounted in a fresh temp dir, unmounted and removed at the end; undefined where mounting is not permitted. */
function mountTmpfs (t: Test, size: number): string | undefined {
  const dir = mkdtempSync(joinPath(tmpdir(), 'auth-fs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
  t.teardown(() => {
    try { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }) } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}
const remount = (dir: string, options: string): void => { execFileSync('mount', ['-o', `remount,${options}`, dir], { stdio: 'ignore' }) }

/** chattr ±i: an immutable file cannot be written even through descriptors already open (ext4; root). */
const immutable = (files: string[], on: boolean): void => { execFileSync('chattr', [on ? '+i' : '-i', ...files], { stdio: 'ignore' }) }

// What this machine permits. Where a fault cannot be produced the test says so
// (skip with the reason) rather than pretending.
const NO_MOUNT = (() => {
  const probe: Test = { teardown: (fn: () => void) => { fn() } } as unknown as Test
  const dir = mountTmpfs(probe, 64 * 1024)
  return dir === undefined ? 'mounting a tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)' : false
})()
const NO_CHATTR = (() => {
  const dir = mkdtempSync(joinPath(tmpdir(), 'auth-chattr-'))
  const file = joinPath(dir, 'probe')
  writeFileSync(file, 'x')
  try {
    immutable([file], true)
    immutable([file], false)
    return false
  } catch {
    return `chattr +i is not supported for ${tmpdir()} here (needs root and ext2/3/4, xfs or btrfs)`
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})()

/** Fills the file system holding `dir` until only `leave` bytes are free; returns a function that frees it again. */
function fillDisk (dir: string, leave: number): () => void {
  const filler = joinPath(dir, 'filler')
  const { bavail, bsize } = statfsSync(dir)
  const fd = openSync(filler, 'w')
  try {
    let remaining = bavail * bsize - leave
    const chunk = Buffer.alloc(64 * 1024)
    while (remaining > 0) {
      try {
        remaining -= writeSync(fd, chunk, 0, Math.min(chunk.length, remaining))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
        throw err
      }
    }
  } finally {
    closeSync(fd)
  }
  return () => { unlinkSync(filler) }
}

function integrity (path: string): string {
  const db = new Database(path, { readonly: true })
  try { return String(db.pragma('integrity_check', { simple: true })) } finally { db.close() }
}

const verify = async (app: FastifyInstance, token: string) => await post(app, '/account/token/verify', { token })

/** Runs the real server with `env`; resolves with its exit code and stderr. */
async function startFailure (env: Record<string, string>): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += String(d) })
  // A server that starts after all must not hang the test: it is stopped and reported.
  const timer = setTimeout(() => { stderr += '\n(still running after 30 s: killed)'; child.kill('SIGKILL') }, 30000)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stderr: stderr.trim() }
}

t.test('SQLITE_BUSY_TIMEOUT is validated like every variable', async (t) => {
  t.equal(loadConfig({ SQLITE_BUSY_TIMEOUT: '250', JWT_SECRET: 'k'.repeat(32) }).sqliteBusyTimeout, 250)
  t.equal(loadConfig({ JWT_SECRET: 'k'.repeat(32) }).sqliteBusyTimeout, 5000, 'default 5 s')
  for (const bad of ['-1', 'soon', '1.5', '600001']) {
    t.throws(() => loadConfig({ SQLITE_BUSY_TIMEOUT: bad, JWT_SECRET: 'k'.repeat(32) }), { name: 'ConfigError', variable: 'SQLITE_BUSY_TIMEOUT' }, bad)
  }
})

t.test('a database locked by another process: writes get 503 + Retry-After, reads go on, nothing half-done', async (t) => {
  const dir = tempDir(t)
  const path = joinPath(dir, 'auth.db')
  const app = await build(t, { DATABASE_URL: path, SQLITE_BUSY_TIMEOUT: '50' })
  const a = await join(app)
  const b = await join(app)
  const c = await join(app)
  const newEmail = uniqueEmail()

  const other = new Database(path)
  t.teardown(() => { if (other.open) other.close() })
  other.exec('BEGIN EXCLUSIVE')

  assertUnavailable(t, await post(app, '/account/join', { email: newEmail, password: PASSWORD }), 'join')
  assertUnavailable(t, await login(app, a.email), 'login')
  assertUnavailable(t, await post(app, '/account/token/refresh', { refresh: a.refresh }), 'refresh')
  assertUnavailable(t, await post(app, '/account/logout', { refresh: b.refresh }), 'logout')
  assertUnavailable(t, await post(app, '/account/logout', { all: true }, bearer(b.access)), 'logout all')
  assertUnavailable(t, await post(app, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(c.access)), 'password change')
  // WAL: readers are not blocked by a writer.
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(a.access) })).statusCode, 200, 'mypage still answers')
  t.equal((await verify(app, a.refresh)).statusCode, 200, 'verify still answers')

  other.exec('ROLLBACK')
  other.close()

  t.equal((await post(app, '/account/join', { email: newEmail, password: PASSWORD })).statusCode, 201, 'the refused join can be repeated (no half-written user)')
  t.equal((await post(app, '/account/token/refresh', { refresh: a.refresh })).statusCode, 200, 'the refused refresh did not rotate the token')
  t.equal((await verify(app, b.refresh)).statusCode, 200, 'the refused logouts revoked nothing')
  t.equal((await login(app, c.email, NEW_PASSWORD)).json().code, 'INVALID_CREDENTIALS', 'the refused password change changed nothing')
  t.equal((await verify(app, c.refresh)).statusCode, 200, '…and revoked nothing')
  t.equal((await login(app, c.email)).statusCode, 200)
})

t.test('GET /ready names the driver\'s code of a storage failure', async (t) => {
  const app = await build(t)
  app.store.ping = async () => { throw domainError(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })) }
  const res = await app.inject({ url: '/ready' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', code: 'NOT_READY', message: 'Not ready: the database does not answer (SQLITE_IOERR)' })
  t.equal(res.headers['retry-after'], '5')
})

t.test('the command line on a locked database: one line naming the file and the driver\'s reason, exit 1', async (t) => {
  const path = joinPath(tempDir(t), 'auth.db')
  const env = { DATABASE_URL: path, SQLITE_BUSY_TIMEOUT: '50', JWT_SECRET: 'k'.repeat(32) }
  t.equal((await cli(['users', 'create', '--email', 'first@example.test', '--password', PASSWORD], env)).code, 0, 'made on a free file')
  const other = new Database(path)
  t.teardown(() => { if (other.open) other.close() })
  other.exec('BEGIN EXCLUSIVE')
  const res = await cli(['users', 'create', '--email', 'second@example.test', '--password', PASSWORD], env)
  t.equal(res.code, 1)
  t.match(res.err, /^error: SQLite database \S+auth\.db cannot be written \(database is locked\)$/)
})

t.test('a database held exclusively by another process: the start fails (SQLITE_BUSY), and succeeds once it is released', async (t) => {
  const dir = tempDir(t)
  const path = joinPath(dir, 'auth.db')
  const app = await build(t, { DATABASE_URL: path, SQLITE_BUSY_TIMEOUT: '50' })
  const a = await join(app)
  await app.close()
  // With the service's connection closed, another process takes the file exclusively…
  const other = new Database(path)
  t.teardown(() => { if (other.open) other.close() })
  other.pragma('locking_mode = EXCLUSIVE')
  other.exec('BEGIN EXCLUSIVE; UPDATE users SET name = name; COMMIT')
  // …so the service cannot even start on it: one clear line, no stack.
  await t.rejects(build(t, { DATABASE_URL: path, SQLITE_BUSY_TIMEOUT: '50' }), { code: /^SQLITE_BUSY/ }, 'a start on a locked file fails with SQLITE_BUSY')
  other.close()
  const again = await build(t, { DATABASE_URL: path, SQLITE_BUSY_TIMEOUT: '50' })
  t.equal((await login(again, a.email)).statusCode, 200, 'once released, the service starts and the data is intact')
})

t.test('a full disk: 503 + Retry-After at every fill level, and no operation half-done', { skip: NO_MOUNT }, async (t) => {
  // 16 MiB: room for the WAL to reach its ~4 MB auto-checkpoint size once the filler is gone.
  const dir = mountTmpfs(t, 16 * 1024 * 1024)!
  const path = joinPath(dir, 'auth.db')
  const app = await build(t, { DATABASE_URL: path, SQLITE_BUSY_TIMEOUT: '50' })
  let outcomes = { ok: 0, unavailable: 0 }
  const count = (res: LightMyRequestResponse, ok: number): boolean => {
    t.ok(res.statusCode === ok || res.statusCode === 503, `${res.statusCode} is ${ok} or 503 (${res.body.slice(0, 120)})`)
    if (res.statusCode === 503) assertUnavailable(t, res, 'full disk')
    if (res.statusCode === ok) outcomes.ok++
    else outcomes.unavailable++
    return res.statusCode === ok
  }

  // Sweep the free space left, page by page, so that every write of every
  // operation is, at some step, the one that meets the full disk.
  for (let leave = 0; leave <= 96 * 1024; leave += 4096) {
    const s: Session = await join(app)
    const s2: Session = await join(app)
    // The password change's own user: s2's logout ends the session whose access token it would use.
    const s3: Session = await join(app)
    const email = uniqueEmail()
    const lastLogin = async (): Promise<unknown> =>
      (await app.inject({ method: 'GET', url: '/account/mypage', headers: bearer(s.access) })).json().user.last_login
    const lastLoginBefore = await lastLogin()
    t.type(lastLoginBefore, 'string', 'last_login is read from mypage')
    const free = fillDisk(dir, leave)
    const joined = await post(app, '/account/join', { email, password: PASSWORD })
    const loggedIn = await login(app, s.email)
    const refreshed = await post(app, '/account/token/refresh', { refresh: s.refresh })
    const loggedOut = await post(app, '/account/logout', { refresh: s2.refresh })
    const changed = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(s3.access))
    free()

    const where = `(${leave / 1024} KiB left)`
    if (count(joined, 201)) t.equal((await login(app, email)).statusCode, 200, `join ${where}: the user can log in`)
    else t.equal((await post(app, '/account/join', { email, password: PASSWORD })).statusCode, 201, `join ${where}: refused, so the email is still free`)
    if (count(loggedIn, 200)) t.equal((await verify(app, loggedIn.json().refresh)).statusCode, 200, `login ${where}: its token is stored`)
    else t.equal(await lastLogin(), lastLoginBefore, `login ${where}: refused, so last_login is unchanged`)
    if (count(refreshed, 200)) {
      t.equal((await verify(app, s.refresh)).json().code, 'TOKEN_REVOKED', `refresh ${where}: the old token is revoked`)
      t.equal((await verify(app, refreshed.json().refresh)).statusCode, 200, `refresh ${where}: the new one is stored`)
    } else {
      t.equal((await verify(app, s.refresh)).statusCode, 200, `refresh ${where}: refused, so the token is still live`)
    }
    if (count(loggedOut, 200)) t.equal((await verify(app, s2.refresh)).json().code, 'TOKEN_REVOKED', `logout ${where}: revoked`)
    else t.equal((await verify(app, s2.refresh)).statusCode, 200, `logout ${where}: refused, so nothing was revoked`)
    const newWorks = (await login(app, s3.email, NEW_PASSWORD)).statusCode === 200
    const oldWorks = (await login(app, s3.email)).statusCode === 200
    if (count(changed, 200)) t.ok(newWorks && !oldWorks, `password change ${where}: the new password, only`)
    else t.ok(oldWorks && !newWorks, `password change ${where}: refused, so the old password, only`)
  }
  t.ok(outcomes.unavailable > 0, `some operations met the full disk (${JSON.stringify(outcomes)})`)
  t.ok(outcomes.ok > 0, 'and some fitted')
  await app.close()
  t.equal(integrity(path), 'ok', 'integrity_check after the sweep')
  outcomes = { ok: 0, unavailable: 0 }
})

t.test('database files that become unwritable at run time: 503 + Retry-After for writes, recovery after', { skip: NO_CHATTR }, async (t) => {
  // A file system cannot be remounted read-only under a process writing to it
  // (EBUSY), so the files themselves are made immutable: every write through
  // the open descriptors then fails (EPERM), as on a file system gone read-only.
  // (The -shm file is memory-mapped; SQLite needs it writable or the process
  // dies of SIGBUS, so it is left alone.)
  const dir = tempDir(t)
  const path = joinPath(dir, 'auth.db')
  const app = await build(t, { DATABASE_URL: path })
  const a = await join(app)
  const b = await join(app)
  const email = uniqueEmail()
  const files = [path, `${path}-wal`]
  immutable(files, true)
  try {
    assertUnavailable(t, await post(app, '/account/join', { email, password: PASSWORD }), 'join')
    assertUnavailable(t, await login(app, a.email), 'login')
    assertUnavailable(t, await post(app, '/account/token/refresh', { refresh: a.refresh }), 'refresh')
    assertUnavailable(t, await post(app, '/account/logout', { refresh: b.refresh }), 'logout')
    assertUnavailable(t, await post(app, '/account/password/change', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(b.access)), 'password change')
    t.equal((await app.inject({ url: '/account/mypage', headers: bearer(a.access) })).statusCode, 200, 'reads still answer')
  } finally {
    immutable(files, false)
  }
  t.equal((await post(app, '/account/join', { email, password: PASSWORD })).statusCode, 201, 'the refused join can be repeated')
  t.equal((await post(app, '/account/token/refresh', { refresh: a.refresh })).statusCode, 200, 'the refused refresh changed nothing')
  t.equal((await verify(app, b.refresh)).statusCode, 200, 'the refused logout revoked nothing')
  t.equal((await login(app, b.email)).statusCode, 200, 'the refused password change changed nothing')
  await app.close()
  t.equal(integrity(path), 'ok')
})

t.test('a data directory removed or replaced at run time: writes get 503, never acknowledged into a file that is gone', async (t) => {
  for (const how of ['removed', 'replaced by a copy'] as const) {
    const base = tempDir(t)
    const dir = joinPath(base, 'data')
    const path = joinPath(dir, 'auth.db')
    const env = { DATABASE_URL: path, JWT_SECRET: 'k'.repeat(32) }
    const app = await build(t, env)
    const a = await join(app)
    const email = uniqueEmail()
    if (how === 'removed') {
      rmSync(dir, { recursive: true, force: true })
    } else {
      // A restore from backup: the files at the path are now other files.
      renameSync(dir, joinPath(base, 'old'))
      cpSync(joinPath(base, 'old'), dir, { recursive: true })
    }
    assertUnavailable(t, await post(app, '/account/join', { email, password: PASSWORD }), `${how}: join`)
    assertUnavailable(t, await post(app, '/account/token/refresh', { refresh: a.refresh }), `${how}: refresh`)
    assertUnavailable(t, await post(app, '/account/logout', { refresh: a.refresh }), `${how}: logout`)
    t.equal((await app.inject({ url: '/account/mypage', headers: bearer(a.access) })).statusCode, 200, `${how}: reads still answer`)
    await app.close()
    if (how === 'replaced by a copy') {
      const again = await build(t, env)
      t.equal((await login(again, a.email)).statusCode, 200, 'after a restart on the copy: its users are there')
      t.equal((await verify(again, a.refresh)).statusCode, 200, '…its token was not rotated or revoked by the refused requests')
      t.equal((await post(again, '/account/join', { email, password: PASSWORD })).statusCode, 201, '…and the refused join can be repeated')
    }
  }
})

t.test('storage that cannot be used at start: one clear line naming the problem, exit 1', async (t) => {
  const base = tempDir(t)
  writeFileSync(joinPath(base, 'a-file'), 'not a directory')
  const ro = NO_MOUNT === false ? mountTmpfs(t, 1024 * 1024) : undefined
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['data directory under a regular file (generated secret)', { DATABASE_URL: joinPath(base, 'a-file', 'data', 'auth.db') },
      /^Invalid configuration: DATABASE_URL data directory .* cannot be created: ENOTDIR/],
    ['data directory under a regular file (JWT_SECRET given)', { DATABASE_URL: joinPath(base, 'a-file', 'data', 'auth.db'), JWT_SECRET: 'k'.repeat(32) },
      /^Cannot start: ENOTDIR/]
  ]
  if (ro !== undefined) {
    mkdirSync(joinPath(ro, 'data'))
    // An existing database (and generated secret) on a file system mounted read-only.
    const existing = await build(t, { DATABASE_URL: joinPath(ro, 'existing', 'auth.db') })
    await join(existing)
    await existing.close()
    remount(ro, 'ro')
    cases.push(
      ['existing database on a read-only file system (generated secret)', { DATABASE_URL: joinPath(ro, 'existing', 'auth.db') },
        /^Invalid configuration: JWT_SECRET is not set and .* cannot be used: EROFS: read-only file system/],
      // (WAL needs its -shm file: on a read-only file system SQLite cannot open the database at all.)
      ['existing database on a read-only file system (JWT_SECRET given)', { DATABASE_URL: joinPath(ro, 'existing', 'auth.db'), JWT_SECRET: 'k'.repeat(32) },
        /^Cannot start: (unable to open database file|SQLite database .* cannot be written)/],
      ['read-only data directory (generated secret)', { DATABASE_URL: joinPath(ro, 'data', 'auth.db') }, /^Invalid configuration: JWT_SECRET is not set and .* cannot be written: EROFS/],
      ['read-only data directory (JWT_SECRET given)', { DATABASE_URL: joinPath(ro, 'data', 'auth.db'), JWT_SECRET: 'k'.repeat(32) }, /^Cannot start: .*(read-only|readonly|unable to open)/i]
    )
  } else {
    t.comment(`read-only cases not run: ${String(NO_MOUNT)}`)
  }
  if (NO_CHATTR === false) {
    const path = joinPath(base, 'immutable', 'auth.db')
    const existing = await build(t, { DATABASE_URL: path })
    await existing.close()
    immutable([path], true)
    t.teardown(() => { immutable([path], false) })
    cases.push(['immutable database file', { DATABASE_URL: path }, /^Cannot start: SQLite database .* cannot be written \(attempt to write a readonly database\)$/])
  }
  const results = await Promise.all(cases.map(async ([, env]) => await startFailure(env)))
  cases.forEach(([what, , line], i) => {
    const { code, stderr } = results[i]!
    t.equal(code, 1, `${what}: exit 1`)
    t.match(stderr, line, `${what}: ${stderr}`)
    t.equal(stderr.split('\n').length, 1, `${what}: one line`)
  })
})
