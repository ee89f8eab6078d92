import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { test } from 'tap'
import { seedEmail } from '../../src/accounts/seed.js'
import { projectRoot } from '../../src/paths.js'
import { tempDir } from '../helpers/app.js'

// `npm run bench:seed` in miniature, so that it cannot rot: five users into a
// SQLite file of the test's own, and a bad option refused in one line.

const seed = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bench/seed.ts', ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 })

test('npm run bench:seed, smoke: --number 5 --batch 2 creates user1 … user5 in the --sqlite file', async (t) => {
  const file = join(tempDir(t), 'auth.db')
  const run = seed(['--number', '5', '--batch', '2', '--sqlite', file])
  t.equal(run.status, 0, `bench:seed exits 0\n${run.stdout}\n${run.stderr}`)
  t.match(run.stdout, /^sqlite: 5 users in [\d.]+ s \(\d+ users\/s, batch 2\); table holds 5$/m, 'the result line')
  const db = new Database(file, { readonly: true })
  t.teardown(() => db.close())
  const rows = db.prepare('SELECT email, password_hash FROM users ORDER BY email').all() as Array<{ email: string, password_hash: string }>
  t.same(rows.map((r) => r.email), [1, 2, 3, 4, 5].map(seedEmail), 'the five users exist')
  t.ok(rows.every((r) => r.password_hash.startsWith('$argon2id$')), 'with an argon2id hash')
})

test('npm run bench:seed: a bad option is one line on standard error and exit code 2, before any work', async (t) => {
  const dir = tempDir(t)
  for (const args of [['--number', '0'], ['--number', 'ten'], ['--batch', '5001'], ['--numbr', '5'], ['--number'], ['5'], ['--postgres', 'mysql://db']]) {
    const run = seed(['--sqlite', join(dir, 'never.db'), ...args])
    const what = args.join(' ')
    t.equal(run.status, 2, `${what}: exit code 2`)
    t.equal(run.stdout, '', `${what}: nothing on standard output`)
    t.match(run.stderr, /^bench:seed: [^\n]+ \(usage: npm run bench:seed -- [^\n]+\)\n$/, `${what}: one line (${run.stderr.trim()})`)
    t.notMatch(run.stderr, /\bat .+:\d+:\d+/, `${what}: no stack trace`)
  }
  t.match(seed(['--number', '0']).stderr, /--number must be a whole number from 1 to 10000000, got "0"/, 'the line names the option and the value')
  t.match(seed(['--numbr', '5']).stderr, /Unknown option '--numbr'/)
  t.same(readdirSync(dir), [], 'no database was created')
})
