import { spawn } from 'node:child_process'
import { join as joinPath } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import pg from 'pg'
import t from 'tap'
import { openSqliteStore } from '../../src/db/sqlite/store.js'
import { migrationsDir, projectRoot } from '../../src/paths.js'
import { cli } from '../helpers/cli.js'
import { migrationJournal, tempDir } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'
import { childEnv } from '../helpers/process.js'

/*
 * Instances started at the same moment on one empty database migrate it once
 * (PostgreSQL: an advisory lock; SQLite: the file's write lock, BEGIN
 * IMMEDIATE), and `auth-service migrate` migrates alone, for deploy pipelines
 * that migrate before they start instances. Real processes: the locks are
 * between processes.
 */

const JWT_SECRET = 'migrate-test-secret-0123456789abcdef'

/** `auth-service migrate` as a process of its own: exit code and output. */
async function migrateProcess (env: Record<string, string>): Promise<{ code: number | null, out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'migrate'], { cwd: projectRoot, env: childEnv({ LOG_LEVEL: 'silent', JWT_SECRET, ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += String(d) })
  child.stderr.on('data', (d: Buffer) => { out += String(d) })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, out }
}

const PROCESSES = 4

t.test('SQLite: four migrate processes at once on an empty file all succeed, each migration applied once', async (t) => {
  const path = joinPath(tempDir(t), 'auth.db')
  const results = await Promise.all(Array.from({ length: PROCESSES }, async () => await migrateProcess({ DATABASE_URL: path })))
  for (const r of results) {
    t.equal(r.code, 0, r.out)
    t.match(r.out, /migrations applied/)
  }
  const db = new Database(path, { readonly: true })
  t.teardown(() => db.close())
  t.equal((db.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n, migrationJournal('sqlite').entries.length)
  t.ok(db.prepare("SELECT name FROM sqlite_master WHERE name = 'refresh_tokens'").get(), 'the tables exist')
})

t.test('PostgreSQL: four migrate processes at once on an empty database all succeed, each migration applied once', async (t) => {
  const url = await testDatabase(t)
  const results = await Promise.all(Array.from({ length: PROCESSES }, async () => await migrateProcess({ DATABASE_URL: url })))
  for (const r of results) t.equal(r.code, 0, r.out)
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  t.teardown(async () => { await sql.end() })
  const applied = await sql.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')
  t.equal(applied.rows[0].n, migrationJournal('postgres').entries.length)
})

t.test('migrate in-process on PostgreSQL, then again: nothing left to do', async (t) => {
  const url = await testDatabase(t)
  const first = await cli(['migrate'], { DATABASE_URL: url, JWT_SECRET })
  t.equal(first.code, 0, first.err)
  const again = await cli(['migrate'], { DATABASE_URL: url, JWT_SECRET })
  t.equal(again.code, 0, again.err)
  const sql = new pg.Client({ connectionString: url })
  await sql.connect()
  t.teardown(async () => { await sql.end() })
  t.equal((await sql.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')).rows[0].n, migrationJournal('postgres').entries.length)
})

t.test('SQLite: the locked migrator keeps drizzle\'s bookkeeping (a file drizzle migrated is up to date, and the other way round)', async (t) => {
  const dir = tempDir(t)
  const byDrizzle = joinPath(dir, 'drizzle.db')
  const raw = new Database(byDrizzle)
  migrate(drizzle({ client: raw }), { migrationsFolder: migrationsDir.sqlite })
  raw.close()
  const store = openSqliteStore({ path: byDrizzle, synchronous: 'full' })
  await store.close()

  const byUs = joinPath(dir, 'ours.db')
  const ours = openSqliteStore({ path: byUs, synchronous: 'full' })
  await ours.close()
  const again = new Database(byUs)
  t.teardown(() => again.close())
  migrate(drizzle({ client: again }), { migrationsFolder: migrationsDir.sqlite })
  for (const file of [byDrizzle, byUs]) {
    const db = new Database(file, { readonly: true })
    t.equal((db.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n, migrationJournal('sqlite').entries.length, `${file}: each migration once`)
    db.close()
  }
})
