import { spawnSync } from 'node:child_process'
import t from 'tap'
import { projectRoot } from '../src/paths.js'

// The bench scripts refuse a bad command line in one line and exit code 2 (bench/lib/options.ts).

const run = (script: string, args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 })

for (const [script, name, valued] of [['bench/run.ts', 'bench', '--duration'], ['bench/workers.ts', 'bench:workers', '--duration'], ['bench/seed.ts', 'bench:seed', '--number']] as const) {
  t.test(`${name}: an unknown option or a missing value is one line and exit code 2`, async (t) => {
    for (const args of [['--bogus'], [valued]]) {
      const res = run(script, args)
      t.equal(res.status, 2, `${args.join(' ')}: exit code 2`)
      const lines = res.stderr.trim().split('\n')
      t.equal(lines.length, 1, `${args.join(' ')}: one line`)
      t.match(lines[0], new RegExp(`^${name}: (Unknown option '--bogus'|Option '${valued} <value>' argument missing) \\(usage: npm run ${name}`))
      t.notMatch(res.stderr, /\n\s+at /, 'no stack trace')
      t.equal(res.stdout, '', 'nothing measured')
    }
  })
}
