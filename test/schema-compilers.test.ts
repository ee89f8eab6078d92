import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { lazySchemaCompilers } from '../src/schema-compilers.js'
import { build } from './helper.js'

// Routes' schemas are compiled at their first request (src/schema-compilers.ts):
// a broken one would no longer stop the start, so this is where it is caught.
t.test('every route\'s body validator and response serializers compile', async (t) => {
  const app = await build(t)
  t.ok(app.schemaCompilers.remaining() > 50, `${app.schemaCompilers.remaining()} functions wait for their first use`)
  t.doesNotThrow(() => { app.schemaCompilers.compileAll() })
  t.equal(app.schemaCompilers.remaining(), 0)
  t.ok(app.printRoutes().includes('mypage'), 'the service\'s routes were registered')
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

t.test('a schema is compiled at its route\'s first request, not at start', async (t) => {
  const { app, compilers: { compileAll } } = appWith(t)
  app.post('/broken', { schema: { body: { type: 'object', properties: { a: { type: 'no-such-type' } } } } }, async () => ({}))
  await t.resolves(async () => { await app.ready() }, 'the start does not compile it')
  t.throws(() => { compileAll() }, /no-such-type|type must be/, 'compiling it now fails')
  const res = await app.inject({ method: 'POST', url: '/broken', payload: { a: 1 } })
  t.equal(res.statusCode, 500, 'and so does the route\'s first request')
})

t.test('the compiled functions are ajv\'s and fast-json-stringify\'s, with Fastify\'s options', async (t) => {
  const { app, compilers: { compileAll } } = appWith(t)
  app.post('/echo', {
    schema: {
      body: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 2 }, n: { type: 'integer', default: 3 } } },
      response: { 200: { type: 'object', properties: { name: { type: 'string' }, n: { type: 'integer' } } } }
    }
  }, async (request) => ({ ...(request.body as object), secret: 'not in the schema' }))
  await app.ready()

  const ok = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'ab' } })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { name: 'ab', n: 3 }, 'useDefaults applied; the serializer writes only the schema\'s properties')

  const bad = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'a', n: '1' } })
  t.equal(bad.statusCode, 400)
  const message = bad.json().message as string
  t.match(message, /name must NOT have fewer than 2 characters/, 'ajv\'s errors are read from the function Fastify holds')
  t.match(message, /n must be integer/, 'allErrors and no coercion: both problems, the string not turned into a number')

  t.doesNotThrow(() => { compileAll() }, 'nothing left to compile fails')
})

t.test('once listening, the service compiles what is left between requests, and stops when closed', async (t) => {
  const routes = (app: ReturnType<typeof Fastify>): void => {
    for (const name of ['a', 'b', 'c']) {
      app.post(`/${name}`, { schema: { body: { type: 'object' }, response: { 200: { type: 'object' }, 400: { type: 'object' } } } }, async () => ({}))
    }
  }
  const { app, compilers } = appWith(t)
  routes(app)
  const started: Array<() => void> = []
  app.addHook('onListen', async () => { started.push(compilers.compileInBackground()) })
  await app.ready()
  t.equal(compilers.remaining(), 9, 'nothing compiled at start: 3 validators, 6 serializers')
  await app.listen({ port: 0, host: '127.0.0.1' })
  for (let turns = 0; compilers.remaining() > 0 && turns < 1000; turns++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(compilers.remaining(), 0, 'all compiled after listen, without a request')

  const second = appWith(t)
  routes(second.app)
  await second.app.ready()
  const stop = second.compilers.compileInBackground()
  stop()
  for (let turns = 0; turns < 20; turns++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(second.compilers.remaining(), 9, 'stopped: nothing compiled')
})

t.test('the service starts the background compile when it listens', async (t) => {
  const app = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const res = await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/health`)
  t.equal(res.status, 200)
  // Every schema compiled within a bounded number of turns, without requests to the routes.
  let compiledAll = false
  for (let turns = 0; turns < 2000 && !compiledAll; turns++) {
    await new Promise((resolve) => setImmediate(resolve))
    compiledAll = app.schemaCompilers.remaining() === 0
  }
  t.ok(compiledAll, 'nothing left to compile')
})
