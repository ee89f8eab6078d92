import { spawn, spawnSync } from 'node:child_process'
import { connect } from 'node:http2'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { ensureBuilt } from '../bench/lib/service.js'
import { build, testConfig } from './helper.js'
import { testDatabase } from './pg-helper.js'
import { parseEnv as parseEnvFromSources, schema as envSchemaFromSources } from '../src/config-env.js'
import * as schemasFromSources from '../src/schemas.js'
import { BUNDLED, latin1 } from '../scripts/bundle-vendor.mjs'
import { startFlags } from '../scripts/code-cache.mjs'
import { childEnv } from './process-helper.js'

// `npm run build` does two things after tsc (docs/design.md, "The build"):
// it bundles the packages of src/vendor/ (scripts/bundle-vendor.mjs) and
// replaces dist/src/config-env.js with ajv's standalone code for the
// environment's schema (scripts/compile-config-env.mjs). The built service
// must behave as the sources do, and load those packages from nowhere else.

const root = join(import.meta.dirname, '..')
ensureBuilt(root, (line) => { t.comment(line) })
const built = async <T>(path: string): Promise<T> => await import(pathToFileURL(join(root, 'dist', path)).href) as T

/** Every compiled .js file of dist/src, dist/plugins and dist/routes. */
function compiledFiles (): string[] {
  const files: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (/\.(?:c|m)?js$/.test(entry.name)) files.push(path)
    }
  }
  for (const dir of ['src', 'plugins', 'routes']) walk(join(root, 'dist', dir))
  return files
}

t.test('no compiled file imports a bundled package: they come from dist/src/vendor', async (t) => {
  const bundled = BUNDLED as string[]
  t.same([...bundled].sort(), ['@fastify/cookie', '@fastify/cors', '@fastify/error', '@fastify/jwt', '@fastify/rate-limit', '@fastify/static', '@fastify/swagger', '@fastify/swagger-ui', '@fastify/under-pressure', 'close-with-grace', 'drizzle-orm', 'fast-jwt', 'fastify', 'fastify-plugin', 'helmet', 'pino', 'secure-json-parse', 'typebox'])
  const names = bundled.map((name) => name.replace(/[/]/g, '\\/')).join('|')
  // A static import or export at the start of a line (not the examples in the
  // packages' doc comments), a dynamic import or a require.
  const importOf = [
    new RegExp(`^(?:import|export)\\b[^;]*?\\bfrom\\s*['"](?:${names})(?:\\/[^'"]*)?['"]`, 'm'),
    new RegExp(`\\b(?:import|require|__require)\\(\\s*['"](?:${names})(?:\\/[^'"]*)?['"]`)
  ]
  const offenders = compiledFiles().filter((file) => { const code = readFileSync(file, 'utf8'); return importOf.some((re) => re.test(code)) }).map((file) => relative(root, file))
  t.same(offenders, [], 'every import of them goes through the bundles')
  t.ok(importOf[0]?.test("import {\n  x\n} from '@fastify/jwt'") === true && importOf[1]?.test('require("fast-jwt")') === true, 'and an import of one would be found')
  t.ok(compiledFiles().some((file) => file.endsWith('vendor.cjs')), 'the bundle is among the files searched')
  const bundle = readFileSync(join(root, 'dist', 'src', 'vendor', 'vendor.cjs'), 'utf8')
  t.notMatch(bundle, /[^\x00-\xff]/, 'the bundle is Latin-1 only (V8 keeps its source at one byte a character)')
  t.same(bundle.split('\n').filter((line) => /\bimport\(/.test(line) && !/^\s*(?:\*|\/\/)/.test(line)), [], 'no import() but in comments: code run from a code cache cannot import in Node 20')
  t.ok(bundle.startsWith("'use strict';"), 'and strict mode code from its first line, as ES modules are (the packages converted from them included)')
  const code = '/* 64–71 — é */ const s = "a – b 😀 é"'
  t.equal(latin1(code), '/* 64\\u201371 \\u2014 é */ const s = "a \\u2013 b \\ud83d\\ude00 é"', 'the build writes what lies beyond Latin-1 as escapes (é is Latin-1)')
  t.equal(new Function(`${latin1(code)}; return s`)(), 'a – b 😀 é', 'which are the same string')
  const vendor = readdirSync(join(root, 'dist', 'src', 'vendor'))
  t.same(vendor.sort(), ['drizzle-postgres.js', 'drizzle-sqlite.js', 'drizzle.js', 'fast-jwt.js', 'fastify-jwt.js', 'fastify-plugin.js', 'fastify-plugins.js', 'fastify.js', 'helpers.js', 'pino.js', 'rate-limit.js', 'swagger.js', 'typebox.js', 'vendor.cjs', 'vendor.cjs.v8cache'], 'dist/src/vendor: a stub per module of src/vendor, the bundle and its code cache')
  for (const name of vendor.filter((name) => name.endsWith('.js'))) {
    const stub = readFileSync(join(root, 'dist', 'src', 'vendor', name), 'utf8')
    const imported = [...stub.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? '')
    t.same(imported, ['../code-cache.js'], `${name} imports only the loader`)
    t.match(stub, `requireWithCodeCache(new URL('./vendor.cjs', import.meta.url))[${JSON.stringify(name.slice(0, -3))}]`, `${name} takes its exports from the bundle's ${name.slice(0, -3)}`)
  }
})

t.test('each stub exports what its source module exports', async (t) => {
  const modules = readdirSync(join(root, 'src', 'vendor')).filter((name) => name.endsWith('.ts')).map((name) => name.slice(0, -3))
  t.equal(modules.length, 13, 'every module of src/vendor')
  for (const name of modules) {
    const fromBuild = await built<Record<string, unknown>>(`src/vendor/${name}.js`)
    const fromSources = await import(`../src/vendor/${name}.js`) as Record<string, unknown>
    const names = Object.keys(fromSources).sort()
    t.same(Object.keys(fromBuild).sort(), names, `${name}: ${names.length} names`)
    t.same(names.map((key) => typeof fromBuild[key]), names.map((key) => typeof fromSources[key]), `${name}: of the same kinds`)
  }
})

t.test('the built schemas equal the sources\' (built with the packages themselves)', async (t) => {
  const schemas = await built<Record<string, unknown>>('src/schemas.js')
  const sources = schemasFromSources as Record<string, unknown>
  const names = Object.keys(sources).filter((name) => typeof sources[name] === 'object')
  t.ok(names.length >= 20, `${names.length} schemas compared`)
  const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value))
  for (const name of names) t.same(plain(schemas[name]), plain(sources[name]), name)
  const errorsOf = schemas.errors as typeof schemasFromSources.errors
  t.same(plain(errorsOf(400, 401)), plain(schemasFromSources.errors(400, 401)), 'errors()')
})

t.test('the built drizzle bundles share one set of classes: an error of drizzle-sqlite.js is the class of drizzle.js (the error handler tests the errors of drizzle with instanceof)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-build-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const { openSqliteStore } = await built<typeof import('../src/db/sqlite.js')>('src/db/sqlite.js')
  const { DrizzleError, sql } = await built<typeof import('../src/vendor/drizzle.js')>('src/vendor/drizzle.js')
  const { drizzle } = await built<typeof import('../src/vendor/drizzle-sqlite.js')>('src/vendor/drizzle-sqlite.js')
  const store = openSqliteStore({ path: join(dir, 'auth.db'), synchronous: 'full' })
  t.teardown(async () => { await store.close() })
  const id = randomUUID()
  await store.users.create({ id, email: 'bundle@example.com', passwordHash: 'x', name: 'Bundle', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null })
  t.equal((await store.users.byEmail('bundle@example.com'))?.id, id, 'the built SQLite store (migrated at open) writes and reads a user')

  const Database = (await import('better-sqlite3')).default
  const db = drizzle(new Database(':memory:'))
  let thrown: unknown
  try { db.run(sql`SELECT * FROM no_such_table`) } catch (err) { thrown = err }
  t.ok(thrown instanceof DrizzleError, 'a failed run() through drizzle-sqlite.js throws an instance of drizzle.js\'s DrizzleError')
})

t.test('the built PostgreSQL store (drizzle-postgres.js) migrates, writes, reads and knows a taken email', async (t) => {
  const url = await testDatabase(t)
  const { openPostgresStore } = await built<typeof import('../src/db/postgres.js')>('src/db/postgres.js')
  const { EmailTakenError } = await built<typeof import('../src/errors.js')>('src/errors.js')
  const store = await openPostgresStore({ url })
  t.teardown(async () => { await store.close() })
  const user = { id: randomUUID(), email: 'bundle@example.com', passwordHash: 'x', name: 'Bundle', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null }
  await store.users.create(user)
  t.equal((await store.users.byEmail('bundle@example.com'))?.id, user.id, 'written and read back')
  // The unique violation reaches the store wrapped in drizzle's DrizzleQueryError,
  // which the store unwraps with instanceof: the chunk's class, shared.
  await t.rejects(store.users.create({ ...user, id: randomUUID() }), EmailTakenError)
})

t.test('the built JWT and rate-limit bundles work inside Fastify', async (t) => {
  const { default: jwt } = await built<typeof import('../src/vendor/fastify-jwt.js')>('src/vendor/fastify-jwt.js')
  const { createVerifier } = await built<typeof import('../src/vendor/fast-jwt.js')>('src/vendor/fast-jwt.js')
  const { default: rateLimit } = await built<typeof import('../src/vendor/rate-limit.js')>('src/vendor/rate-limit.js')
  const { default: Fastify } = await import('fastify')
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  const secret = 'a'.repeat(32)
  await app.register(jwt, { secret })
  await app.register(rateLimit, { max: 2, timeWindow: 60_000 })
  app.get('/', async () => ({ token: app.jwt.sign({ sub: 'someone' } as never) }))
  const first = await app.inject('/')
  t.equal(first.statusCode, 200)
  const { token } = first.json<{ token: string }>()
  t.equal((createVerifier({ key: secret }) as (token: string) => { sub: string })(token).sub, 'someone', 'fast-jwt verifies what @fastify/jwt signed')
  t.equal((await app.inject('/')).statusCode, 200)
  t.equal((await app.inject('/')).statusCode, 429, 'the third request within the window is refused')
})

t.test('the built environment check is env-schema\'s: same values, same errors', async (t) => {
  const { parseEnv, schema } = await built<typeof import('../src/config-env.js')>('src/config-env.js')
  t.match(readFileSync(join(root, 'dist', 'src', 'config-env.js'), 'utf8'), /^\/\/ Generated by scripts\/compile-config-env\.mjs/, 'the built module is the generated one')
  t.same(schema, JSON.parse(JSON.stringify(envSchemaFromSources)), 'the same schema')
  t.notMatch(readFileSync(join(root, 'dist', 'src', 'config-env.js'), 'utf8'), /from ['"](env-schema|ajv)['"]|require\(['"](env-schema|ajv)['"]\)/, 'it loads neither env-schema nor ajv')

  const outcome = (parse: typeof parseEnv, env: Record<string, string>): unknown => {
    try {
      return { value: parse(env) }
    } catch (err) {
      const errors = (err as { errors?: Array<{ instancePath: string, keyword: string, params: unknown }> }).errors
      return { errors: errors?.map(({ instancePath, keyword, params }) => ({ instancePath, keyword, params })) }
    }
  }
  const cases: Array<[string, Record<string, string>]> = [
    ['nothing set: every default', {}],
    ['integers coerced, unknown variables dropped', { PORT: '8080', SQLITE_BUSY_TIMEOUT: '0', PATH: '/usr/bin', HOME: '/root' }],
    ['every kind of value set', { HOST: '0.0.0.0', JWT_ALGORITHM: 'EdDSA', LOG_LEVEL: 'warn', COOKIE_SAMESITE: 'Strict', EMAIL_VERIFICATION: 'mandatory', MAIL_LANGUAGE: 'ko', REDIS_KEY_PREFIX: 'x:', ARGON2_MEMORY_KIB: '65536' }],
    ['a number that is not an integer', { PORT: '80.5' }],
    ['not a number', { PORT: 'eighty' }],
    ['out of range', { PORT: '70000', RATE_LIMIT_LOGIN_MAX: '0', ARGON2_ITERATIONS: '1' }],
    ['not one of the allowed values', { LOG_LEVEL: 'loud', JWT_ALGORITHM: 'none', SQLITE_SYNCHRONOUS: 'off' }],
    ['too short and too long', { HOST: '', MAIL_FROM: 'ab', REDIS_KEY_PREFIX: 'p'.repeat(101) }],
    ['length in code points, not UTF-16 units', { MAIL_FROM: '😀😀', REDIS_KEY_PREFIX: '😀'.repeat(100) }]
  ]
  for (const [name, env] of cases) t.same(outcome(parseEnv, env), outcome(parseEnvFromSources, env), name)
  t.match(outcome(parseEnv, { PORT: 'eighty' }), { errors: [{ instancePath: '/PORT', keyword: 'type' }] }, 'an error names its variable')
})

t.test('the built app serves the OpenAPI document, /docs with its files and the client page as the sources do', async (t) => {
  // swagger-ui serves files from its package folder and @fastify/swagger reads
  // its package.json: the bundle keeps each module's __dirname.
  const { buildApp } = await built<typeof import('../src/app.js')>('src/app.js')
  const builtApp = await buildApp(testConfig(t), { logStream: { write () {} } })
  t.teardown(async () => { await builtApp.close() })
  const sourceApp = await build(t)
  for (const url of ['/openapi.json', '/docs', '/docs/', '/docs/json', '/docs/static/swagger-ui.css', '/docs/static/swagger-ui-bundle.js', '/docs/static/logo.svg', '/docs/static/no-such-file.js', '/', '/app.js', '/style.css']) {
    const [fromBuild, fromSources] = await Promise.all([builtApp.inject(url), sourceApp.inject(url)])
    t.equal(fromBuild.statusCode, fromSources.statusCode, `${url}: ${fromSources.statusCode}`)
    t.equal(fromBuild.headers['content-type'], fromSources.headers['content-type'], `${url}: same type`)
    t.equal(fromBuild.body, fromSources.body, `${url}: same body`)
  }
  t.equal((await builtApp.inject('/docs/static/swagger-ui.css')).statusCode, 200, 'a file of swagger-ui\'s own folder')
})

/** The log lines of the built service started with `flags`, up to its "Server listening" line. */
async function startLines (t: Test, flags: string[]): Promise<Array<Record<string, unknown>>> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-build-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const child = spawn(process.execPath, [...flags, join(root, 'dist', 'src', 'server.js')], {
    cwd: root,
    env: childEnv({ HOST: '127.0.0.1', PORT: '0', DATABASE_URL: `file:${join(dir, 'auth.db')}`, LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const lines: Array<Record<string, unknown>> = []
  let text = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no "Server listening" line in 30 s: ${text}`)) }, 30_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk
      const complete = text.split('\n').slice(0, -1)
      if (complete.some((line) => line.includes('Server listening'))) { clearTimeout(timer); resolve() }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}): ${text}`)) })
  }).finally(() => { child.removeAllListeners('exit'); child.kill('SIGTERM') })
  for (const line of text.split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>)
  return lines
}

t.test('the built service starts from the code cache the build made, and says so when it cannot', async (t) => {
  const flags = startFlags()
  t.ok(flags.length > 0, `npm start's flags: ${flags.join(' ')}`)
  const cache = readFileSync(join(root, 'dist', 'src', 'vendor', 'vendor.cjs.v8cache'))
  t.ok(cache.length > 100_000, `the bundle's cache holds the code a start runs (${Math.round(cache.length / 1024)} KiB)`)
  const asStarted = await startLines(t, flags)
  t.ok(asStarted.some((line) => typeof line.msg === 'string' && line.msg.startsWith('Server listening at ')), 'started with npm start\'s flags')
  t.same(asStarted.filter((line) => line.event === 'code_cache_unused'), [], 'and the cache used: no warning')
  const otherFlags = await startLines(t, [...flags, '--stack-size=2000'])
  const warnings = otherFlags.filter((line) => line.event === 'code_cache_unused')
  t.match(warnings, [{ level: 40, state: 'rejected', file: join(root, 'dist', 'src', 'vendor', 'vendor.cjs') }], 'started with other V8 flags: V8 refuses the cache, the service starts all the same and warns once')
  t.match(warnings[0]?.msg, /made by another Node version or with other flags\): starts are slower until `npm run build` makes it again/, 'saying why and what to do')
})

t.test('a start loads neither node:https and node:http2 (the bundle loads them at first use) nor argon2 (the first password does)', async (t) => {
  // A process of its own: this one has loaded them already.
  const dir = mkdtempSync(join(tmpdir(), 'auth-build-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const script = `
    const { loadConfig } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'src', 'config.js')).href)})
    const { buildApp } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'src', 'app.js')).href)})
    const app = await buildApp(loadConfig({ HOST: '127.0.0.1', PORT: '0', DATABASE_URL: ${JSON.stringify(`file:${join(dir, 'auth.db')}`)} }, ${JSON.stringify(dir)}), { logStream: { write () {} } })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { createRequire } = await import('node:module')
    const cache = Object.keys(createRequire(import.meta.url).cache)
    console.log(JSON.stringify({ builtins: process.moduleLoadList.filter((name) => /^NativeModule (https|http2|tls)$/.test(name)), argon2: cache.filter((file) => file.includes('argon2')).length }))
    const joined = await app.inject({ method: 'POST', url: '/account/join', payload: { email: 'lazy@example.com', password: 'correct-Horse-battery-9', name: 'Lazy' } })
    console.log(JSON.stringify({ joined: joined.statusCode, argon2: Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes('argon2')).length }))
    await app.close()`
  const r = spawnSync(process.execPath, [...startFlags(), '--input-type=module', '-e', script], { cwd: root, env: childEnv(), encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const [atStart, afterJoin] = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { builtins?: string[], argon2: number, joined?: number })
  t.same(atStart, { builtins: [], argon2: 0 }, 'the built service listening: neither node:https, node:http2, tls nor @node-rs/argon2 loaded')
  t.equal(afterJoin?.joined, 201, 'a join hashes its password')
  t.ok((afterJoin?.argon2 ?? 0) > 0, 'with @node-rs/argon2, loaded then')

  const { default: Fastify } = await built<typeof import('../src/vendor/fastify.js')>('src/vendor/fastify.js')
  const app = Fastify({ http2: true })
  t.teardown(async () => { await app.close() })
  app.get('/', async () => ({ over: 'h2' }))
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  const session = connect(address)
  t.teardown(() => { session.close() })
  const body = await new Promise<string>((resolve, reject) => {
    const stream = session.request({ ':path': '/' })
    let text = ''
    stream.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => { resolve(text) }).on('error', reject)
  })
  t.same(JSON.parse(body), { over: 'h2' }, 'and a Fastify of the bundle still serves HTTP/2 (node:http2 loaded on use)')
})

t.test('a code cache that cannot be made is one line of the build, not a failed build', async (t) => {
  const cacheFile = join(root, 'dist', 'src', 'vendor', 'vendor.cjs.v8cache')
  const before = readFileSync(cacheFile)
  // No temporary folder to start the service in: the step cannot start it.
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'code-cache.mjs')], { cwd: root, env: childEnv({ TMPDIR: join(root, 'no-such-folder', 'tmp') }), encoding: 'utf8' })
  t.equal(r.status, 0, 'the step exits 0')
  t.match(r.stdout, /^code cache not made \(.*ENOENT.*\): the service starts without it\n$/, `one line saying why: ${r.stdout.trim()}`)
  t.ok(readFileSync(cacheFile).equals(before), 'the cache already there is left as it was')
})
