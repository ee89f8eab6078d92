import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { ensureBuilt } from '../../bench/lib/service.js'
import { entryPoints } from '../../scripts/build.mjs'
import { projectRoot } from '../../src/paths.js'
import { build, PASSWORD, tempDir } from '../helpers/app.js'
import { testDatabase } from '../helpers/postgres.js'
import { childEnv } from '../helpers/process.js'
import { startServer, stopServer } from '../helpers/server.js'

// `npm run build` bundles the sources with their packages into dist/
// (scripts/build.mjs, docs/design.md "The build"). The built service must
// answer as the sources do.

const root = projectRoot
ensureBuilt(root, (line) => { t.comment(line) })

/** Every file under dist/`dir`, relative to dist/. */
function builtFiles (dir: string): string[] {
  return readdirSync(join(root, 'dist', dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(join(root, 'dist'), join(entry.parentPath, entry.name)))
    .sort()
}

t.test('the build keeps one file per entry point where Node and autoload look, and each package once', async (t) => {
  const entries = entryPoints().map((file) => file.replace(/\.ts$/, '.js'))
  t.ok(entries.length > 30, `${entries.length} entry points`)
  const built = [...builtFiles('src'), ...builtFiles('plugins'), ...builtFiles('routes')].filter((file) => file.endsWith('.js'))
  t.same(built.sort(), [...entries].sort(), 'dist/src, dist/plugins and dist/routes hold the entry points and nothing else')
  for (const file of built) t.ok(builtFiles('.').includes(`${file}.map`), `${file} has its source map`)
  const copies = (path: string): string[] => [...builtFiles('src'), ...builtFiles('plugins'), ...builtFiles('routes'), ...builtFiles('chunks')]
    .filter((file) => file.endsWith('.js') && readFileSync(join(root, 'dist', file), 'utf8').includes(`node_modules/${path}\n`))
  for (const path of ['fastify/fastify.js', 'typebox/build/typebox.mjs', 'drizzle-orm/entity.js', 'fast-jwt/src/verifier.js', 'pino/pino.js']) {
    t.equal(copies(path).length, 1, `${path} is in one file: ${copies(path).join(', ')}`)
  }
})

t.test('a stack trace of the built code names the TypeScript file and line', async (t) => {
  // The worker's module refuses to run outside a worker thread.
  const line = readFileSync(join(root, 'src', 'passwords', 'bcrypt-worker.ts'), 'utf8').split('\n').findIndex((text) => text.includes('runs as a worker thread')) + 1
  const r = spawnSync(process.execPath, ['--enable-source-maps', join(root, 'dist', 'src', 'passwords', 'bcrypt-worker.js')], { cwd: root, env: childEnv(), encoding: 'utf8' })
  t.not(r.status, 0, 'it fails')
  t.match(r.stderr, /bcrypt-worker runs as a worker thread/)
  t.match(r.stderr, new RegExp(`src/passwords/bcrypt-worker\\.ts:${line}\\b`), `and the trace points into the sources (line ${line})`)
})

t.test('the built service serves the OpenAPI document, /docs with its files, the client page, the JWKS (a route in a dot folder) and a login as the sources do', async (t) => {
  const dir = tempDir(t)
  const server = await startServer({ DATABASE_URL: `file:${join(dir, 'auth.db')}`, SERVE_CLIENT: 'true', LOG_LEVEL: 'warn' }, { quiet: true, built: true })
  t.teardown(async () => { await stopServer(server) })
  const sources = await build(t)
  for (const url of ['/openapi.json', '/docs', '/docs/', '/docs/json', '/docs/static/swagger-ui.css', '/docs/static/swagger-ui-bundle.js', '/docs/static/logo.svg', '/docs/static/no-such-file.js', '/', '/app.js', '/style.css', '/.well-known/jwks.json']) {
    const [fromBuild, fromSources] = await Promise.all([fetch(server.url + url, { redirect: 'manual' }), sources.inject(url)])
    t.equal(fromBuild.status, fromSources.statusCode, `${url}: ${fromSources.statusCode}`)
    t.equal(fromBuild.headers.get('content-type'), fromSources.headers['content-type'] ?? null, `${url}: same type`)
    t.equal(await fromBuild.text(), fromSources.body, `${url}: same body`)
  }

  const post = async (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    await fetch(server.url + url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  t.equal((await post('/account/join', { email: 'built@example.com', password: PASSWORD })).status, 201, 'a join')
  const login = await post('/account/login', { email: 'built@example.com', password: PASSWORD })
  t.equal(login.status, 200, 'a login')
  const { access, refresh } = await login.json() as { access: string, refresh: string }
  const me = await fetch(`${server.url}/account/mypage`, { headers: { authorization: `Bearer ${access}` } })
  t.match(await me.json(), { user: { email: 'built@example.com' } }, 'its access token opens mypage')
  t.equal((await post('/account/token/refresh', { refresh })).status, 200, 'its refresh token rotates (the SQLite rotation worker, built)')
  t.equal((await post('/account/login', { email: 'built@example.com', password: 'wrong-Password-123' })).status, 401, 'a wrong password is refused')
})

t.test('the built service on PostgreSQL (its store and driver loaded on demand) migrates, writes and reads', async (t) => {
  const url = await testDatabase(t)
  const server = await startServer({ DATABASE_URL: url, LOG_LEVEL: 'warn' }, { quiet: true, built: true })
  t.teardown(async () => { await stopServer(server) })
  const join = async (): Promise<Response> => await fetch(`${server.url}/account/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'pg@example.com', password: PASSWORD }) })
  t.equal((await join()).status, 201, 'a join')
  t.match(await (await join()).json(), { code: 'EMAIL_TAKEN' }, 'the same email again: the unique violation known as EMAIL_TAKEN')
})

t.test('started as a supervisor may start it, `node dist/src/server.js` without flags, the service logs no warning and stops cleanly', async (t) => {
  const dir = tempDir(t)
  const server = await startServer({ DATABASE_URL: `file:${join(dir, 'auth.db')}`, SERVE_CLIENT: 'true', LOG_LEVEL: 'info' }, { plain: true })
  t.teardown(async () => { await stopServer(server, 'SIGKILL') })
  const post = async (path: string, body: unknown) => await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  t.equal((await post('/account/join', { email: 'plain@example.com', password: PASSWORD })).status, 201)
  t.equal((await post('/account/password/reset', { email: 'plain@example.com' })).status, 200, 'a mail (nodemailer loaded on demand)')
  t.equal((await fetch(`${server.url}/`)).status, 200, 'the client page')
  t.equal((await fetch(`${server.url}/docs/json`)).status, 200, 'the OpenAPI document')
  const { code } = await stopServer(server)
  t.equal(code, 0, 'SIGTERM: exit code 0')
  const parsed = server.lines.map((line) => { try { return JSON.parse(line) as { level: number, msg: string } } catch { return { level: Infinity, msg: line } } })
  t.same(parsed.filter((l) => l.level >= 40), [], 'no warning, no error, no line that is not the log (a Node warning on standard error)')
  t.ok(parsed.some((l) => /mail written to/.test(l.msg)), 'the mail was written')
  t.ok(parsed.some((l) => l.msg === 'shutting down'))
})
