import { Writable } from 'node:stream'
import type { FastifyRequest } from 'fastify'
import pino from 'pino'
import t from 'tap'
import { RequestLogger } from '../../../src/log.js'

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

t.test('the request line is written as pino writes the same fields, and only when info is on', async (t) => {
  const { requestLineWriter } = await import('../../../plugins/app/request-log.js')
  const capture = (level: string) => {
    const lines: string[] = []
    const logger = pino({ level }, { write (line: string) { lines.push(line) } })
    return { logger, lines }
  }
  const request = (over: Record<string, unknown>) => ({ id: 'req-1', method: 'GET', url: '/x', routeOptions: { url: '/account/mypage' }, ...over }) as unknown as FastifyRequest
  const cases: Array<[string, FastifyRequest, Record<string, unknown>]> = [
    ['a route, with a user', request({ user: { id: 'b9d1611a-b2c4-453d-80b3-a9d6d1ba984e' } }), { reqId: 'req-1', method: 'GET', route: '/account/mypage', status: 200, ms: 1.23, userId: 'b9d1611a-b2c4-453d-80b3-a9d6d1ba984e' }],
    ['no route: the path, without the query', request({ routeOptions: { url: undefined }, url: '/nowhere/"quoted"\\?q=1', id: 'a.b:c@d/e+f=g-h' }), { reqId: 'a.b:c@d/e+f=g-h', method: 'GET', path: '/nowhere/"quoted"\\', status: 404, ms: 1.23 }]
  ]
  for (const [what, req, fields] of cases) {
    const written = capture('info')
    requestLineWriter(written.logger)(req, fields.status as number, 1.2345)
    const byPino = capture('info')
    byPino.logger.info(fields, 'request')
    t.equal(written.lines.length, 1, `${what}: one line`)
    // The same text but for the time, which pino reads a moment later.
    const untimed = (line: string | undefined) => line?.replace(/"time":\d+/, '"time":0')
    t.equal(untimed(written.lines[0]), untimed(byPino.lines[0]), `${what}: as pino writes it`)
    t.ok(Math.abs((JSON.parse(written.lines[0] ?? '{}') as { time: number }).time - Date.now()) < 5000, `${what}: the time is now`)
  }
  const quiet = capture('warn')
  const write = requestLineWriter(quiet.logger)
  write(request({}), 200, 1)
  t.same(quiet.lines, [], 'nothing at warn')
  quiet.logger.level = 'info'
  write(request({}), 200, 1)
  t.equal(quiet.lines.length, 1, 'a level raised later is followed')
})

t.test('with a logger that is not pino, the request line goes through its info()', async (t) => {
  const { requestLineWriter } = await import('../../../plugins/app/request-log.js')
  const calls: unknown[][] = []
  const logger = { info: (...args: unknown[]) => { calls.push(args) } } as unknown as Parameters<typeof requestLineWriter>[0]
  requestLineWriter(logger)({ id: 'r', method: 'POST', url: '/a?b', routeOptions: { url: undefined }, user: { id: 'u' } } as unknown as FastifyRequest, 404, 2.5)
  t.same(calls, [[{ reqId: 'r', method: 'POST', path: '/a', status: 404, ms: 2.5, userId: 'u' }, 'request']])
})
