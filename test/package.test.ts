import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import Fastify from 'fastify'
import t from 'tap'
import { projectRoot } from '../src/paths.js'
import { build, cookiesOf, join as joinUser, tempDir } from './helpers/app.js'

/*
 * package.json's `overrides` pin two transitive packages whose newest majors
 * declare Node >= 22 (npm ci printed EBADENGINE on Node 20): cookie 1.1.1 under
 * @fastify/cookie and light-my-request, content-disposition 2.0.1 under
 * @fastify/static. These tests prove the lock keeps every package installable
 * on the Node versions package.json promises, and exercise the code paths
 * the overridden packages serve.
 */

const require = createRequire(import.meta.url)
const root = projectRoot
const semver = require('semver') as { satisfies: (version: string, range: string) => boolean, minVersion: (range: string) => { version: string } | null }

t.test('every locked package supports the Node versions package.json promises (no EBADENGINE)', async (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }
  const lowest = semver.minVersion(pkg.engines.node)?.version ?? ''
  t.ok(lowest.startsWith('20.'), `package.json promises Node ${lowest}`)
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string, engines?: { node?: string } }> }
  const refused = Object.entries(lock.packages)
    .filter(([, p]) => p.engines?.node !== undefined && !semver.satisfies(lowest, p.engines.node))
    .map(([path, p]) => `${path}@${p.version ?? '?'} (node ${p.engines?.node ?? ''})`)
  t.same(refused, [], `every package accepts Node ${lowest}`)
  for (const [from, name] of [['@fastify/cookie', 'cookie'], ['light-my-request', 'cookie'], ['@fastify/static', 'content-disposition']] as const) {
    // The package.json beside the entry point the dependent would load (exports hide ./package.json).
    const entry = createRequire(require.resolve(`${from}/package.json`)).resolve(name)
    const manifest = join(entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`)), 'node_modules', name, 'package.json')
    const { engines } = JSON.parse(readFileSync(manifest, 'utf8')) as { engines: { node: string } }
    t.ok(semver.satisfies(process.versions.node, engines.node), `${name} as ${from} loads it accepts this Node (${engines.node})`)
  }
})

t.test('cookies: serialised with their attributes, parsed back, through the overridden cookie package', async (t) => {
  const app = await build(t, { COOKIE_SECURE: 'true', COOKIE_SAMESITE: 'strict' })
  const s = await joinUser(app)
  const header = ([] as string[]).concat((await app.inject({ method: 'POST', url: '/account/login', payload: { email: s.email, password: 'correct-Horse-battery-9' } })).headers['set-cookie'] ?? [])
  const refresh = header.find((c) => c.startsWith('refresh_token='))
  t.match(refresh, /^refresh_token=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=86400; Path=\/account; HttpOnly; Secure; SameSite=Strict$/, 'Set-Cookie with every attribute')
  // A Cookie header with several cookies, spaces and a quoted value parses as the browser meant it.
  const res = await app.inject({ url: '/account/mypage', headers: { cookie: `theme="dark"; access_token=${s.access};other=1` } })
  t.equal(res.statusCode, 200, 'the access_token cookie is parsed out of a mixed header')
  // light-my-request (inject) serialises request cookies with the same package.
  t.equal((await app.inject({ url: '/account/mypage', cookies: { access_token: s.access } })).statusCode, 200)
  t.equal(cookiesOf(res).access_token, undefined, 'mypage sets no cookie')
})

t.test('a static file download: Content-Disposition through the overridden content-disposition package', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'plain.txt'), 'plain')
  writeFileSync(join(dir, 'résumé €.txt'), 'unicode')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyStatic, { root: dir, serve: false })
  app.get('/plain', async (_req, reply) => await reply.download('plain.txt'))
  app.get('/unicode', async (_req, reply) => await reply.download('résumé €.txt'))
  const plain = await app.inject({ url: '/plain' })
  t.equal(plain.statusCode, 200)
  t.equal(plain.body, 'plain')
  t.equal(plain.headers['content-disposition'], 'attachment; filename=plain.txt')
  const unicode = await app.inject({ url: '/unicode' })
  t.equal(unicode.body, 'unicode')
  t.equal(unicode.headers['content-disposition'], 'attachment; filename="r?sum? ?.txt"; filename*=UTF-8\'\'r%C3%A9sum%C3%A9%20%E2%82%AC.txt', 'an ASCII fallback and the RFC 5987 form')
})
