import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { lazySchemaCompilers } from '../src/schema-compilers.js'
import { BACKGROUND_COMPILE_DELAY_MS, buildApp } from '../src/app.js'
import { build, captureLogs, nextTurn as turn, testConfig, waitFor } from './helpers/app.js'

// Functions are compiled at their first use (src/schema-compilers.ts): a broken
// schema no longer stops the start, so this is where it is caught.
t.test('every route\'s body validator and response serializers compile', async (t) => {
  const app = await build(t)
  t.ok(app.schemaCompilers.remaining() > 50, `${app.schemaCompilers.remaining()} functions wait for their first use`)
  t.doesNotThrow(() => { app.schemaCompilers.compileAll() })
  t.equal(app.schemaCompilers.remaining(), 0)
  // hasRoute, not printRoutes' text: its radix tree splits "mypage" once "/account/mfa" exists.
  t.ok(app.hasRoute({ method: 'GET', url: '/account/mypage' }), 'the service\'s routes were registered')
})

function appWith (t: Test) {
  const compilers = lazySchemaCompilers()
  const app = Fastify({
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: true } },
    schemaController: { compilersFactory: compilers.factories }
  })
  t.teardown(() => app.close())
  return { app, compilers }
}

const BROKEN = { body: { type: 'object', properties: { a: { type: 'no-such-type' } } } }

t.test('a schema is compiled at its first use, not at start; one that does not compile fails its requests', async (t) => {
  const { app, compilers } = appWith(t)
  app.post('/broken', { schema: BROKEN }, async () => ({}))
  await t.resolves(async () => { await app.ready() }, 'the start does not compile it')
  t.equal(compilers.remaining(), 1)
  t.throws(() => { compilers.compileAll() }, /The schema of POST \/broken body does not compile: schema is invalid/, 'compiling it now fails, naming the route')
  t.throws(() => { compilers.compileAll() }, /POST \/broken body/, 'and keeps failing: it is not taken for compiled')
  t.equal(compilers.remaining(), 1)
  const res = await app.inject({ method: 'POST', url: '/broken', payload: { a: 1 } })
  t.equal(res.statusCode, 500, 'so does the route\'s request')
})

t.test('the compiled functions are ajv\'s and fast-json-stringify\'s, with Fastify\'s options', async (t) => {
  const { app, compilers } = appWith(t)
  app.post('/echo', {
    schema: {
      body: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 2 }, n: { type: 'integer', default: 3 } } },
      response: { 200: { type: 'object', properties: { name: { type: 'string' }, n: { type: 'integer' } } } }
    }
  }, async (request) => ({ ...(request.body as object), secret: 'not in the schema' }))
  await app.ready()
  t.equal(compilers.remaining(), 2, 'one validator and one serializer wait')

  const bad = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'a', n: '1' } })
  t.equal(bad.statusCode, 400)
  const message = bad.json().message as string
  t.match(message, /name must NOT have fewer than 2 characters/, 'ajv\'s errors are read from the function Fastify holds')
  t.match(message, /n must be integer/, 'allErrors and no coercion: both problems, the string not turned into a number')
  t.equal(compilers.remaining(), 1, 'the validator was compiled by the request; the 200 serializer still waits')

  const ok = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'ab' } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { name: 'ab', n: 3 }, 'useDefaults applied; the serializer writes only the schema\'s properties')
  t.equal(compilers.remaining(), 0, 'the first 200 compiled its serializer')
})

function threeRoutes (app: FastifyInstance): void {
  for (const name of ['a', 'b', 'c']) {
    app.post(`/${name}`, { schema: { body: { type: 'object' }, response: { 200: { type: 'object' }, 400: { type: 'object' } } } }, async () => ({}))
  }
}

t.test('the background compile: one function per turn of the event loop, until none is left, or stopped', async (t) => {
  const { app, compilers } = appWith(t)
  threeRoutes(app)
  app.post('/broken', { schema: BROKEN }, async () => ({}))
  await app.ready()
  t.equal(compilers.remaining(), 10, 'nothing compiled at start: 4 validators, 6 serializers')
  const failures: string[] = []
  compilers.compileInBackground((_err, where) => { failures.push(where) })
  const seen = [compilers.remaining()]
  for (let turns = 0; turns < 100 && failures.length + seen.length < 100; turns++) {
    await turn()
    seen.push(compilers.remaining())
  }
  t.ok(seen.every((n, i) => i === 0 || seen[i - 1] as number - n <= 1), `at most one per turn: ${seen.join(' ')}`)
  t.same(seen.slice(0, 11), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1], 'exactly one per turn, the broken one left')
  t.equal(compilers.remaining(), 1, 'all compiled but the broken one')
  t.same(failures, ['POST /broken body'], 'which was reported once, with its route')

  const second = appWith(t)
  threeRoutes(second.app)
  await second.app.ready()
  const stop = second.compilers.compileInBackground(() => {})
  await turn()
  await turn()
  stop()
  const left = second.compilers.remaining()
  t.ok(left > 0 && left < 9, 'it had started, and had not finished')
  for (let turns = 0; turns < 20; turns++) await turn()
  t.equal(second.compilers.remaining(), left, 'stopped: nothing more compiled')

  const third = appWith(t)
  threeRoutes(third.app)
  await third.app.ready()
  third.compilers.compileInBackground(() => {}, 60)
  for (let turns = 0; turns < 5; turns++) await turn()
  t.equal(third.compilers.remaining(), 9, 'with a delay: nothing compiled before it')
  await new Promise((resolve) => setTimeout(resolve, 80))
  for (let turns = 0; turns < 20; turns++) await turn()
  t.equal(third.compilers.remaining(), 0, 'and everything after it')

  const fourth = appWith(t)
  threeRoutes(fourth.app)
  await fourth.app.ready()
  fourth.compilers.compileInBackground(() => {}, 30)()
  await new Promise((resolve) => setTimeout(resolve, 60))
  for (let turns = 0; turns < 20; turns++) await turn()
  t.equal(fourth.compilers.remaining(), 9, 'stopped before its delay: nothing compiled')
})

t.test('the service compiles in the background once it listens, and stops when it closes', async (t) => {
  const app = await build(t)
  const atStart = app.schemaCompilers.remaining()
  await turn()
  await turn()
  t.equal(app.schemaCompilers.remaining(), atStart, 'ready, not listening: nothing compiled')
  const listening = performance.now()
  await app.listen({ port: 0, host: '127.0.0.1' })
  await turn()
  await turn()
  await turn()
  t.equal(app.schemaCompilers.remaining(), atStart, 'the first moments after listen are left to the first requests')
  await waitFor(() => app.schemaCompilers.remaining() < atStart, 'a function compiled in the background', 10_000)
  t.ok(app.schemaCompilers.remaining() < atStart, 'then it started, without a request')
  t.ok(performance.now() - listening >= BACKGROUND_COMPILE_DELAY_MS - 2, `no sooner than ${BACKGROUND_COMPILE_DELAY_MS} ms after listen`)
  await app.close()
  const left = app.schemaCompilers.remaining()
  t.ok(left > 0, 'closed before it was done')
  for (let turns = 0; turns < 50; turns++) await turn()
  t.equal(app.schemaCompilers.remaining(), left, 'closing stopped it')

  const again = await build(t)
  await again.listen({ port: 0, host: '127.0.0.1' })
  await waitFor(() => again.schemaCompilers.remaining() === 0, 'every function compiled', 10_000)
  t.equal(again.schemaCompilers.remaining(), 0, 'left alone, it compiles everything')
})

t.test('the service logs a schema that does not compile, once, with its route', async (t) => {
  const { logs, logStream } = captureLogs()
  const app = await buildApp(testConfig(t, { LOG_LEVEL: 'info' }), { logStream })
  t.teardown(() => app.close())
  app.post('/broken', { schema: BROKEN }, async () => ({}))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const logged = (): boolean => logs.some((line) => line.includes('schema_not_compiled'))
  await waitFor(() => logged() && app.schemaCompilers.remaining() <= 1, 'the broken schema logged, the rest compiled', 10_000)
  t.equal(app.schemaCompilers.remaining(), 1, 'everything compiled but the broken route')
  const lines = logs.map((line) => JSON.parse(line) as { event?: string, where?: string, level: number, err?: { message: string } })
    .filter((line) => line.event === 'schema_not_compiled')
  t.equal(lines.length, 1, 'one line')
  t.equal(lines[0]?.where, 'POST /broken body')
  t.equal(lines[0]?.level, 50, 'at error level')
  t.match(lines[0]?.err?.message, /schema is invalid/)
})

t.test('GET /health answers before any schema is compiled, with the bytes its schema\'s serializer writes', async (t) => {
  const app = await build(t)
  const before = app.schemaCompilers.remaining()
  const res = await app.inject('/health')
  t.equal(res.statusCode, 200)
  t.equal(res.body, '{"status":"ok"}')
  t.equal(app.schemaCompilers.remaining(), before, 'nothing compiled for it')
  // The documented schema, serialized by fast-json-stringify, gives the same bytes.
  const document = app.swagger() as { paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: object }> }> } }> }
  const schema = document.paths['/health']?.get.responses['200']?.content['application/json']?.schema
  t.ok(schema !== undefined, 'the schema is still documented')
  const { default: fastJson } = await import('fast-json-stringify')
  const serialize = fastJson(schema as Parameters<typeof fastJson>[0])
  for (const payload of [{ status: 'ok' }, { status: 'ok', redis: 'up' }, { status: 'ok', redis: 'down' }]) {
    t.equal(JSON.stringify(payload), serialize(payload), `${JSON.stringify(payload)}: the same bytes`)
  }
})
