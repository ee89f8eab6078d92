import { spawn } from 'node:child_process'
import t from 'tap'
import { projectRoot } from '../../src/paths.js'
import { childEnv } from '../helpers/process.js'

/*
 * The fuzz, JWT-attack and social login suites once more, against a PostgreSQL-backed
 * service (TEST_STORE=postgres: each builds on a fresh database of its own):
 * a behaviour proven on SQLite must hold on the other store too. Each suite
 * runs as its own process (a plain `node` run of a tap file) and must pass.
 */

for (const suite of ['routes/fuzz', 'tokens/jwt-attacks', 'routes/account/social']) {
  t.test(`${suite} suite on PostgreSQL`, async (t) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `test/${suite}.test.ts`], { cwd: projectRoot, env: childEnv({ TEST_STORE: 'postgres' }), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += String(d) })
    child.stderr.on('data', (d: Buffer) => { out += String(d) })
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    const failures = out.split('\n').filter((l) => /^\s*not ok /.test(l))
    t.same(failures, [], 'no failing assertion')
    t.equal(code, 0, `exit code 0\n${code === 0 ? '' : out.slice(-3000)}`)
    t.match(out, /^# \{ total: \d+, pass: \d+/m, 'the suite ran to its summary')
  })
}
