/**
 * `npm run bench:seed`: how long `seed` takes to create N users (issue 14 asks
 * for 100,000 well under a minute). Runs the same code as the command line's
 * `seed` against a fresh store and prints one result line per database.
 *
 *   npm run bench:seed -- [--number 100000] [--batch 2000] [--postgres URL]
 *
 * SQLite: a fresh file in a temp directory, with the service's defaults
 * (synchronous=FULL). --postgres URL: an EMPTY database that URL names (its
 * tables are created; drop the database afterwards).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { openStore } from '../src/db/open.js'
import { createPasswordHasher } from '../src/passwords/hash.js'
import { seedUsers } from '../src/accounts/seed.js'

const { values } = parseArgs({ options: { number: { type: 'string', default: '100000' }, batch: { type: 'string', default: '2000' }, postgres: { type: 'string' } } })
const number = Number(values.number)
const batchSize = Number(values.batch)

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
  await run('sqlite', { DATABASE_URL: `file:${join(dir, 'auth.db')}` })
  if (values.postgres !== undefined) await run('postgres', { DATABASE_URL: values.postgres })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
