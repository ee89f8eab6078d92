import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { RequestLogger } from '../src/log.js'

// request.log (src/log.ts): pino's child, made only when the request logs.

function parent (level = 'info') {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } })
  const logger = pino({ level }, stream)
  let children = 0
  const child = logger.child
  logger.child = function (this: typeof logger, bindings, options) {
    children++
    return child.call(this, bindings, options)
  } as typeof logger.child
  return { logger, lines, children: () => children }
}

t.test('no child is made until the request logs; then one, with the request id', async (t) => {
  const p = parent()
  const log = new RequestLogger(p.logger, { reqId: 'r-1' }, {})
  t.equal(log.level, 'info', 'the level is the parent\'s')
  log.silent('nothing')
  t.equal(p.children(), 0, 'reading the level made no child')
  log.info({ event: 'login' }, 'audit')
  log.warn('plain message %s', 'formatted')
  t.equal(p.children(), 1, 'one child, made at the first line')
  await new Promise((resolve) => setImmediate(resolve))
  t.match(p.lines, [{ reqId: 'r-1', event: 'login', msg: 'audit', level: 30 }, { reqId: 'r-1', msg: 'plain message formatted', level: 40 }])
})

t.test('a route\'s own level and a child of the request logger', async (t) => {
  const p = parent('info')
  const log = new RequestLogger(p.logger, { reqId: 'r-2' }, { level: 'debug' })
  t.equal(log.level, 'debug', 'the route level, before any child exists')
  log.debug('seen at the route level')
  log.child({ part: 'mail' }).error('from a child')
  log.level = 'error'
  log.info('not written')
  t.equal(log.level, 'error')
  await new Promise((resolve) => setImmediate(resolve))
  t.match(p.lines, [{ reqId: 'r-2', msg: 'seen at the route level' }, { reqId: 'r-2', part: 'mail', msg: 'from a child' }])
  t.equal(p.lines.length, 2)
})
