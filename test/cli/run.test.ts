import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { cli } from '../helpers/cli.js'
import { tempDir } from '../helpers/app.js'

test('--help lists every command; no command is a usage error', async (t) => {
  const help = await cli(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /Commands:/)
  t.match(help.out, /migrate\s+apply the database migrations/)
  t.equal((await cli([])).code, 2)
})

test('an unknown command or option is one line and exit code 2', async (t) => {
  const unknown = await cli(['frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.err, /^error: unknown command "frobnicate"/)
  t.equal(unknown.err.split('\n').length, 1)
  const option = await cli(['migrate', '--bogus'])
  t.equal(option.code, 2)
  t.match(option.err, /^error: .*bogus/)
})

test('every command has --help', async (t) => {
  const { commands } = await import('../../src/cli/commands.js')
  for (const c of commands) {
    const res = await cli([...c.name.split(' '), '--help'])
    t.equal(res.code, 0, c.name)
    t.match(res.out, new RegExp(`^Usage: auth-service ${c.name}`), c.name)
  }
})

test('migrate creates and migrates the database, then exits', async (t) => {
  const dir = tempDir(t)
  const res = await cli(['migrate'], { DATABASE_URL: `file:${join(dir, 'db', 'auth.db')}` })
  t.equal(res.code, 0, res.err)
  t.ok(existsSync(join(dir, 'db', 'auth.db')))
  t.match(res.out, /migrations applied/)
})

test('a bad configuration is one line naming the variable, exit code 1', async (t) => {
  const res = await cli(['migrate'], { DATABASE_URL: 'mysql://x' })
  t.equal(res.code, 1)
  t.match(res.err, /^error: invalid configuration: DATABASE_URL/)
})

test('a word that starts with "-" (a key id may) is taken as the command\'s word, not as an unknown option', async (t) => {
  const dir = tempDir(t)
  const res = await cli(['keys', 'revoke', '-AbC_kid'], { DATABASE_URL: `file:${join(dir, 'auth.db')}` })
  t.equal(res.code, 1, res.err)
  t.match(res.err, /-AbC_kid/, 'looked up as a kid')
  const extra = await cli(['keys', 'revoke', 'a', 'b'], { DATABASE_URL: `file:${join(dir, 'auth.db')}` })
  t.equal(extra.code, 2)
  t.match(extra.err, /unexpected argument "b"/)
  const value = await cli(['users', 'set-password', '--password', 'a-Value-not-a-word-1', 'nobody@example.test'], { DATABASE_URL: `file:${join(dir, 'auth.db')}` })
  t.equal(value.err, 'error: no user with email nobody@example.test', 'the word after a string option is its value, not a second word')
})
