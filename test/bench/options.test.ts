import { spawnSync } from 'node:child_process'
import t, { type Test } from 'tap'
import { projectRoot } from '../../src/paths.js'

// The bench scripts refuse a bad command line in one line and exit code 2 (bench/lib/options.ts).

const run = (script: string, args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 })

/** A refusal: exit code 2, one line on stderr starting `<name>: <message>` with the usage, no stack trace, nothing measured. */
function refused (t: Test, res: ReturnType<typeof run>, name: string, message: RegExp | string, label: string): void {
  t.equal(res.status, 2, `${label}: exit code 2`)
  const lines = res.stderr.trim().split('\n')
  t.equal(lines.length, 1, `${label}: one line`)
  const first = lines[0] ?? ''
  if (typeof message === 'string') t.ok(first.startsWith(`${name}: ${message}`), first)
  else t.match(first, message)
  t.match(first, `(usage: npm run ${name}`, 'with the usage')
  t.notMatch(res.stderr, /\n\s+at /, 'no stack trace')
  t.equal(res.stdout, '', 'nothing measured')
}

for (const [script, name, valued] of [['bench/run.ts', 'bench', '--duration'], ['bench/workers.ts', 'bench:workers', '--duration'], ['bench/seed.ts', 'bench:seed', '--number']] as const) {
  t.test(`${name}: an unknown option or a missing value is one line and exit code 2`, async (t) => {
    for (const args of [['--bogus'], [valued]]) {
      refused(t, run(script, args), name, new RegExp(`^${name}: (Unknown option '--bogus'|Option '${valued} <value>' argument missing) \\(usage: npm run ${name}`), args.join(' '))
    }
  })
}

// A bad value is refused the same way as a bad option, by every script.
for (const [script, name, args, message] of [
  ['bench/run.ts', 'bench', ['--duration', 'x'], '--duration must be a number of seconds, got "x"'],
  ['bench/run.ts', 'bench', ['--rounds', '0'], '--rounds must be a whole number of at least 1, got "0"'],
  ['bench/run.ts', 'bench', ['--only', 'nope'], '--only: unknown scenario "nope"'],
  ['bench/workers.ts', 'bench:workers', ['--connections', '1.5'], '--connections must be a whole number of at least 1, got "1.5"'],
  ['bench/workers.ts', 'bench:workers', ['--only', 'nope'], '--only: "nope" is not a scenario measured in rounds'],
  ['bench/seed.ts', 'bench:seed', ['--batch', '9000'], '--batch must be a whole number from 1 to 5000, got "9000"']
] as const) {
  t.test(`${name} ${args.join(' ')}: one line naming the value, exit code 2`, async (t) => {
    refused(t, run(script, [...args]), name, message, args.join(' '))
  })
}
