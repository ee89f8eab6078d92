import { spawnSync } from 'node:child_process'
import { openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setImmediate as turn } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import pino from 'pino'
import t from 'tap'
import { projectRoot } from '../src/paths.js'
import { createLogDestination } from '../src/log.js'
import { tempDir } from './helpers/app.js'
import { childEnv } from './helpers/process.js'

// The server's log destination (src/log.ts): a turn's lines handed to pino's
// asynchronous destination as one string, none lost however the process ends.

const logModule = pathToFileURL(join(projectRoot, 'src', 'log.ts')).href

t.test('every line reaches the file, in order, after flush', async (t) => {
  const file = join(tempDir(t), 'log')
  // Not closed by the test: the destination (sonic-boom, asynchronous, with a
  // periodic flush) may still touch it after the test, and a write to a closed
  // descriptor is an unhandled EBADF that fails the whole file. The test's
  // process ends right after and closes it.
  const fd = openSync(file, 'w')
  const log = createLogDestination(fd)
  const logger = pino({ level: 'info' }, log.stream)
  for (let i = 0; i < 500; i++) {
    logger.info({ n: i }, 'line')
    if (i % 100 === 99) await turn() // several turns, several batches
  }
  await log.flush()
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { n: number })
  t.same(lines.map((l) => l.n), Array.from({ length: 500 }, (_, i) => i), 'all 500 lines, each once, in order')
  t.equal(log.dropped(), 0, 'none dropped')
})

t.test('lines of the last turn are written when the process exits in that turn', async (t) => {
  const file = join(tempDir(t), 'log')
  // Lines logged, then process.exit in the same turn: they never reach
  // pino's destination through the event loop, only through the exit handler.
  const script = `
    import { closeSync, openSync } from 'node:fs'
    import pino from 'pino'
    import { createLogDestination } from ${JSON.stringify(logModule)}
    const log = createLogDestination(openSync(${JSON.stringify(file)}, 'w'))
    const logger = pino({ level: 'info' }, log.stream)
    await new Promise((resolve) => setTimeout(resolve, 50))
    for (let i = 0; i < 3000; i++) logger.info({ n: i }, 'line')
    process.exit(3)
  `
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: projectRoot, env: childEnv(), encoding: 'utf8', timeout: 60_000
  })
  t.equal(r.status, 3, `the child exited as it asked (${r.stderr.slice(-400)})`)
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
  t.equal(lines.length, 3000, 'all 3000 lines written')
  t.same((JSON.parse(lines.at(-1) ?? '{}') as { n?: number }).n, 2999, 'the last one last')
})
