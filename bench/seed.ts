/**
 * `npm run bench:seed`: how long `seed` takes to create N users (the target,
 * docs/benchmarks.md: 100,000 well under a minute). Runs the same code as the command line's
 * `seed` against a fresh store and prints one result line per database.
 *
 *   npm run bench:seed -- [--number 100000] [--batch 2000] [--sqlite FILE] [--postgres URL]
 *
 * SQLite: a fresh file in a temp directory, removed afterwards, with the
 * service's defaults (synchronous=FULL); --sqlite FILE: that file instead
 * (created and migrated when missing, kept). --postgres URL: an EMPTY database
 * that URL names (its tables are created; drop the database afterwards).
 * A bad option: one line on standard error, exit code 2.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config.js'
import { openStore } from '../src/db/open.js'
import { createPasswordHasher } from '../src/passwords/hash.js'
import { seedUsers } from '../src/accounts/seed.js'
import { parseOptions, usageChecks } from './lib/options.js'

const USAGE = 'usage: npm run bench:seed -- [--number N] [--batch B] [--sqlite FILE] [--postgres URL]'

const { fail: usageError, number: numberOption } = usageChecks('bench:seed', USAGE)

const values = parseOptions('bench:seed', USAGE, {
  number: { type: 'string', default: '100000' },
  batch: { type: 'string', default: '2000' },
  sqlite: { type: 'string' },
  postgres: { type: 'string' },
  help: { type: 'boolean', default: false }
})
if (values.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}

const number = numberOption('number', values.number, { whole: true, max: 10_000_000 })
const batchSize = numberOption('batch', values.batch, { whole: true, max: 5000 })
if (values.sqlite === '') usageError('--sqlite needs a file name')
if (values.postgres !== undefined && !/^postgres(ql)?:\/\//.test(values.postgres)) usageError(`--postgres must be a postgres:// URL, got "${values.postgres}"`)

async function run (label: string, env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig({ LOG_LEVEL: 'silent', JWT_SECRET: 'bench-seed-secret-0123456789abcdefghij', ...env })
  const store = await openStore(config)
  try {
    const started = performance.now()
    const { created } = await seedUsers({ store, hasher: createPasswordHasher(config.argon2), number, password: 'bench-seed-password', batchSize })
    const seconds = (performance.now() - started) / 1000
    const count = await store.users.count()
    console.log(`${label}: ${created} users in ${seconds.toFixed(2)} s (${Math.round(created / seconds)} users/s, batch ${batchSize}); table holds ${count}`)
  } finally {
    await store.close()
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-seed-'))
try {
  await run('sqlite', { DATABASE_URL: `file:${values.sqlite ?? join(dir, 'auth.db')}` })
  if (values.postgres !== undefined) await run('postgres', { DATABASE_URL: values.postgres })
} catch (err) {
  // A database that cannot be opened or written: one line, not a stack trace.
  process.stderr.write(`bench:seed: ${(err as Error).message}\n`)
  process.exitCode = 1
} finally {
  rmSync(dir, { recursive: true, force: true })
}
