import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { lazySchemaCompilers } from '../src/schema-compilers.js'
import { build } from './helper.js'

// Routes' schemas are compiled at their first request (src/schema-compilers.ts):
// a broken one would no longer stop the start, so this is where it is caught.
t.test('every route\'s body validator and response serializers compile', async (t) => {
  const app = await build(t)
  t.doesNotThrow(() => { app.compileSchemas() })
  t.ok(app.printRoutes().includes('mypage'), 'the service\'s routes were registered')
})

function appWith (t: Test) {
  const compilers = lazySchemaCompilers()
  const app = Fastify({
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: true } },
    schemaController: { compilersFactory: compilers.factories }
  })
  t.teardown(() => app.close())
  return { app, compileAll: compilers.compileAll }
}

t.test('a schema is compiled at its route\'s first request, not at start', async (t) => {
  const { app, compileAll } = appWith(t)
  app.post('/broken', { schema: { body: { type: 'object', properties: { a: { type: 'no-such-type' } } } } }, async () => ({}))
  await t.resolves(async () => { await app.ready() }, 'the start does not compile it')
  t.throws(() => { compileAll() }, /no-such-type|type must be/, 'compiling it now fails')
  const res = await app.inject({ method: 'POST', url: '/broken', payload: { a: 1 } })
  t.equal(res.statusCode, 500, 'and so does the route\'s first request')
})

t.test('the compiled functions are ajv\'s and fast-json-stringify\'s, with Fastify\'s options', async (t) => {
  const { app, compileAll } = appWith(t)
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
