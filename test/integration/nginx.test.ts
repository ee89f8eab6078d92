import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join as joinPath } from 'node:path'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import t, { type Test } from 'tap'
import { projectRoot } from '../../src/paths.js'
import { buildWithLogs, decodeJwt, forgeJwt, join, nowSeconds, PASSWORD } from '../helpers/app.js'
import { startNginx as startNginx_ } from '../helpers/nginx.js'
import { buildWithSmtp } from '../helpers/smtp.js'

/*
 * A real nginx (/usr/sbin/nginx, run as a child process) running the block
 * docs/gateway.md gives, read from that page: in front of the service and of
 * a tiny upstream (the protected application) that echoes the headers it
 * received, with auth_request asking /account/forward-auth.
 */

const HOST = 'app.example.com'

/** The nginx block of docs/gateway.md: the fenced block after its `nginx-block` marker. */
function documentedBlock (): string {
  const page = readFileSync(joinPath(projectRoot, 'docs', 'gateway.md'), 'utf8')
  const block = /<!-- nginx-block:[^>]*-->\s*```nginx\n([\s\S]*?)\n```/.exec(page)?.[1]
  if (block === undefined) throw new Error('docs/gateway.md has no ```nginx block after an <!-- nginx-block: … --> marker')
  return block
}

interface Ports { listen: number, service: number, upstream: number, cert: string, key: string }

/**
 * The documented block with only what gateway.md says the test changes: the
 * two upstream ports, the listening port (on 127.0.0.1) and the certificate
 * paths. Each must be found exactly once, so that the page and the test
 * cannot drift apart silently.
 */
function blockForTest (block: string, ports: Ports): string {
  const substitutions: Array<[string, string]> = [
    ['server 127.0.0.1:3000;', `server 127.0.0.1:${ports.service};`],
    ['server 127.0.0.1:8080;', `server 127.0.0.1:${ports.upstream};`],
    ['listen 443 ssl;', `listen 127.0.0.1:${ports.listen} ssl;`],
    [`/etc/nginx/tls/${HOST}.crt`, ports.cert],
    [`/etc/nginx/tls/${HOST}.key`, ports.key]
  ]
  let out = block
  for (const [from, to] of substitutions) {
    const count = out.split(from).length - 1
    if (count !== 1) throw new Error(`docs/gateway.md's nginx block should hold "${from}" once, found ${count}`)
    out = out.replace(from, to)
  }
  return out
}

/** The echo upstream: answers 200 with the request's method, path and headers as JSON. */
async function echoUpstream (t: Test): Promise<number> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ echo: true, method: req.method, url: req.url, headers: req.headers }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => { resolve() }); server.closeAllConnections() }))
  return (server.address() as AddressInfo).port
}

/** The documented block inside an http block of the test's own, naming only temporary files. */
/** A self-signed certificate for HOST (openssl), as PEM files in `dir`. */
function selfSigned (dir: string): { cert: string, key: string, ca: string } {
  const cert = joinPath(dir, `${HOST}.crt`)
  const key = joinPath(dir, `${HOST}.key`)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`, '-keyout', key, '-out', cert], { stdio: 'ignore' })
  return { cert, key, ca: readFileSync(cert, 'utf8') }
}

interface Nginx { url: string, ca: string }

/** Starts nginx in the foreground with everything (pid, logs, temp files) in a temp dir; stopped at teardown. */
async function startNginx (t: Test, service: number, upstream: number): Promise<Nginx> {
  let tls: { cert: string, key: string, ca: string } | undefined
  const block = documentedBlock()
  const { port } = await startNginx_(t, (listen, dir) => {
    tls ??= selfSigned(dir)
    return blockForTest(block, { listen, service, upstream, cert: tls.cert, key: tls.key })
  }, async (port) => {
    // Ready once it answers over TLS with the test's certificate.
    await send({ url: `https://127.0.0.1:${port}`, ca: tls?.ca ?? '' }, '/.well-known/jwks.json', 'GET')
    return true
  })
  return { url: `https://127.0.0.1:${port}`, ca: tls?.ca ?? '' }
}

interface Answer { status: number, headers: IncomingHttpHeaders, body: string }

/**
 * A request to nginx over https, checked against the test's certificate for
 * HOST, from 127.0.0.2, so that the client's address differs from nginx's own.
 */
async function send (nginx: Nginx, path: string, method: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest(`${nginx.url}${path}`, { method, headers: { host: HOST, ...headers }, ca: nginx.ca, servername: HOST, localAddress: '127.0.0.2' }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const echo = (a: Answer) => JSON.parse(a.body) as { echo?: true, method: string, url: string, headers: Record<string, string> }

t.test('nginx auth_request in front of an upstream: Bearer, cookie, refusals, TRUST_PROXY', async (t) => {
  const { app, logs } = await buildWithLogs(t, { TRUST_PROXY: '127.0.0.1', JWT_ALGORITHM: 'EdDSA' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const service = (app.server.address() as AddressInfo).port
  const nginx = await startNginx(t, service, await echoUpstream(t))
  const s = await join(app)

  for (const method of ['GET', 'POST']) {
    const res = await send(nginx, '/api/orders?x=1', method, { authorization: `Bearer ${s.access}`, 'content-type': 'application/json' }, method === 'POST' ? '{"item":1}' : undefined)
    t.equal(res.status, 200, `${method} with a Bearer token reaches the upstream`)
    t.equal(echo(res).method, method)
    t.equal(echo(res).headers['x-auth-user-id'], s.user.id, `${method}: the upstream gets the user's id`)
    t.equal(echo(res).headers['x-auth-user-email'], s.email)
  }
  const cookie = await send(nginx, '/api/orders', 'POST', { cookie: `access_token=${s.access}` }, 'x')
  t.equal(cookie.status, 200, 'the access-token cookie works')
  t.equal(echo(cookie).headers['x-auth-user-id'], s.user.id)

  const { payload } = decodeJwt(s.access)
  // Expired: signed by the service's own (EdDSA) key, so that expiry, not the signature, refuses it.
  const refusals: Array<[string, Record<string, string>, string]> = [
    ['missing', {}, 'Bearer'],
    ['forged', { authorization: `Bearer ${forgeJwt({ alg: 'HS256', typ: 'JWT' }, payload, 'guess-guess-guess-guess-guess-guess')}` }, 'Bearer error="invalid_token", error_description="TOKEN_INVALID"'],
    ['expired', { authorization: `Bearer ${app.keys.sign({ ...payload, iat: nowSeconds() - 900, exp: nowSeconds() - 600 })}` }, 'Bearer error="invalid_token", error_description="TOKEN_EXPIRED"'],
    ['a spoofed user header', { 'x-auth-user-id': s.user.id as string }, 'Bearer']
  ]
  for (const [what, headers, challenge] of refusals) {
    const res = await send(nginx, '/api/orders', 'GET', headers)
    t.equal(res.status, 401, `${what}: 401`)
    t.match(res.headers['www-authenticate'], /^Bearer/, `${what}: the Bearer challenge is passed on`)
    t.equal(res.headers['www-authenticate'], challenge, `${what}: the service's own challenge, naming why`)
  }

  // TRUST_PROXY=127.0.0.1: the service sees the client nginx saw (127.0.0.2), not nginx, nor what the client claims.
  const before = logs.length
  await send(nginx, '/api/orders', 'GET', { authorization: 'Bearer x.y.z', 'x-forwarded-for': '203.0.113.9' })
  const refused = logs.slice(before).map((l) => JSON.parse(l) as { event?: string, ip?: string }).find((l) => l.event === 'token_invalid')
  t.equal(refused?.ip, '127.0.0.2', 'the client address nginx forwarded')

  await app.store.users.setActive(String(s.user.id), false)
  t.equal((await send(nginx, '/api/orders', 'GET', { authorization: `Bearer ${s.access}` })).status, 401, 'a deactivated user: 401')

  // The JWKS through nginx, fetched and used by jose as a resource server would.
  const other = await join(app)
  const jwks = JSON.parse((await send(nginx, '/.well-known/jwks.json', 'GET')).body) as JSONWebKeySet
  const { payload: verified } = await jwtVerify(other.access, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] })
  t.equal(verified.sub, other.user.id)
})

t.test('the service\'s own paths pass without auth_request: its client page at /auth/, its API, the links it mails (PUBLIC_URL)', async (t) => {
  // The service as gateway.md says to run it behind this block.
  const { app, smtp } = await buildWithSmtp(t, { PUBLIC_URL: `https://${HOST}/auth/`, COOKIE_SECURE: 'true', TRUST_PROXY: '127.0.0.1' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const nginx = await startNginx(t, (app.server.address() as AddressInfo).port, await echoUpstream(t))

  // The page, no token needed (issue 24: "/" answered 401 through the block).
  const page = await send(nginx, '/auth/', 'GET')
  t.equal(page.status, 200, 'the client page')
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /<script type="module" src="app.js"><\/script>/, 'its files are relative: /auth/app.js, /auth/style.css')
  t.match(page.headers['content-security-policy'], /upgrade-insecure-requests/, 'PUBLIC_URL is https')
  for (const [path, type] of [['/auth/app.js', /javascript/], ['/auth/sessions.js', /javascript/], ['/auth/mfa.js', /javascript/], ['/auth/style.css', /^text\/css/], ['/auth/?token=abc', /^text\/html/]] as const) {
    const res = await send(nginx, path, 'GET')
    t.equal(res.status, 200, path)
    t.match(res.headers['content-type'], type, path)
  }
  const bare = await send(nginx, '/auth', 'GET')
  t.equal(bare.status, 301)
  t.match(bare.headers.location, /\/auth\/$/)

  // Its API: join, then the cookie (Secure, over https) opens the application.
  const email = `nginx-${process.pid}@example.com`
  const joined = await send(nginx, '/account/join', 'POST', { 'content-type': 'application/json' }, JSON.stringify({ email, password: PASSWORD }))
  t.equal(joined.status, 201, 'join through the gateway')
  const setCookie = joined.headers['set-cookie'] ?? []
  const access = setCookie.find((c) => c.startsWith('access_token='))
  t.match(access, /; Secure/, 'Secure cookies')
  const cookie = setCookie.map((c) => c.split(';')[0]).join('; ')
  const mypage = await send(nginx, '/account/mypage', 'GET', { cookie })
  t.equal(mypage.status, 200)
  const userId = (JSON.parse(mypage.body) as { user: { id: string } }).user.id
  const appAnswer = await send(nginx, '/', 'GET', { cookie })
  t.equal(appAnswer.status, 200, 'the application\'s / with the cookie the page\'s login set')
  t.match(echo(appAnswer), { echo: true, url: '/', headers: { 'x-auth-user-id': userId, 'x-auth-user-email': email } })
  t.equal((await send(nginx, '/', 'GET')).status, 401, 'and without it, 401')

  // The mailed link opens the page through the gateway.
  t.equal((await send(nginx, '/account/password/reset', 'POST', { 'content-type': 'application/json' }, JSON.stringify({ email }))).status, 200)
  const mail = await smtp.mailTo(email)
  t.match(mail.body, new RegExp(`https://${HOST.replace(/\./g, '\\.')}/auth/\\?token=[\\w-]+#reset`), 'the link is PUBLIC_URL')

  // The authorization-server metadata is the service's (its X-Request-Id), never the application's or a 401.
  const metadata = await send(nginx, '/.well-known/oauth-authorization-server', 'GET')
  t.not(metadata.status, 401)
  t.ok(metadata.headers['x-request-id'], 'answered by the service')
  t.match(metadata.headers['content-type'], /^application\/json/)

  // The service's other pages stay inside: those paths are the application's, behind auth_request.
  for (const path of ['/auth/docs', '/docs', '/health', '/metrics', '/openapi.json', '/auth/index.html']) {
    t.equal((await send(nginx, path, 'GET')).status, 401, `${path}: not the service's, protected`)
    t.match(echo(await send(nginx, path, 'GET', { cookie })), { echo: true, url: path }, `${path}: the application's`)
  }
})
