import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join as joinPath } from 'node:path'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import t, { type Test } from 'tap'
import { buildWithLogs, decodeJwt, forgeJwt, join, nowSeconds, tempDir } from '../helpers/app.js'
import { freePort } from '../../bench/lib/service.js'

/*
 * A real nginx (/usr/sbin/nginx, run as a child process) in front of a tiny
 * upstream that echoes the headers it received, with auth_request asking
 * /account/forward-auth — the configuration docs/gateway.md gives.
 */

const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx'

/** The echo upstream: answers 200 with the request's method, path and headers as JSON. */
async function echoUpstream (t: Test): Promise<number> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => { resolve() }); server.closeAllConnections() }))
  return (server.address() as AddressInfo).port
}

function nginxConf (dir: string, port: number, service: number, upstream: number): string {
  return `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream auth_service { server 127.0.0.1:${service}; }
  server {
    listen 127.0.0.1:${port};
    location = /_auth {
      internal;
      proxy_pass http://auth_service/account/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location = /.well-known/jwks.json { proxy_pass http://auth_service; }
    location /account/ { proxy_pass http://auth_service; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }
    location / {
      auth_request /_auth;
      auth_request_set $auth_user_id $upstream_http_x_auth_user_id;
      auth_request_set $auth_user_email $upstream_http_x_auth_user_email;
      proxy_set_header X-Auth-User-Id $auth_user_id;
      proxy_set_header X-Auth-User-Email $auth_user_email;
      proxy_pass http://127.0.0.1:${upstream};
    }
  }
}
`
}

/** Starts nginx in the foreground with everything (pid, logs, temp files) in a temp dir; stopped at teardown. */
async function startNginx (t: Test, service: number, upstream: number): Promise<string> {
  const dir = tempDir(t)
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(joinPath(dir, sub))
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    writeFileSync(joinPath(dir, 'nginx.conf'), nginxConf(dir, port, service, upstream))
    const child = spawn(NGINX, ['-p', dir, '-c', joinPath(dir, 'nginx.conf'), '-e', joinPath(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk) => { stderr += String(chunk) })
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => { resolve(code) })
      // Not installed: fail with the reason (the tests need nginx; they are never skipped).
      child.on('error', (err) => { stderr += `${NGINX}: ${err.message}`; resolve(null) })
    })
    // Ready once it answers (or failed once it exits: the port was taken in between).
    const url = `http://127.0.0.1:${port}`
    const up = await Promise.race([
      exited.then(() => false),
      (async () => {
        for (let i = 0; i < 100; i++) {
          try { await fetch(`${url}/.well-known/jwks.json`); return true } catch { await new Promise((resolve) => setTimeout(resolve, 50)) }
        }
        return false
      })()
    ])
    if (up) {
      t.teardown(async () => { child.kill('SIGTERM'); await exited })
      return url
    }
    child.kill('SIGKILL')
    await exited
    if (attempt >= 2 || stderr.includes('ENOENT')) throw new Error(`nginx did not start: ${stderr} ${(() => { try { return readFileSync(joinPath(dir, 'error.log'), 'utf8') } catch { return '' } })()}`)
  }
}

interface Answer { status: number, headers: IncomingHttpHeaders, body: string }

/** A request to nginx from 127.0.0.2, so that the client's address differs from nginx's own. */
async function send (url: string, method: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, localAddress: '127.0.0.2' }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

t.test('nginx auth_request in front of an upstream: Bearer, cookie, refusals, TRUST_PROXY', async (t) => {
  const { app, logs } = await buildWithLogs(t, { TRUST_PROXY: '127.0.0.1', JWT_ALGORITHM: 'EdDSA' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const service = (app.server.address() as AddressInfo).port
  const nginx = await startNginx(t, service, await echoUpstream(t))
  const s = await join(app)
  const echo = (a: Answer) => JSON.parse(a.body) as { method: string, url: string, headers: Record<string, string> }

  for (const method of ['GET', 'POST']) {
    const res = await send(`${nginx}/api/orders?x=1`, method, { authorization: `Bearer ${s.access}`, 'content-type': 'application/json' }, method === 'POST' ? '{"item":1}' : undefined)
    t.equal(res.status, 200, `${method} with a Bearer token reaches the upstream`)
    t.equal(echo(res).method, method)
    t.equal(echo(res).headers['x-auth-user-id'], s.user.id, `${method}: the upstream gets the user's id`)
    t.equal(echo(res).headers['x-auth-user-email'], s.email)
  }
  const cookie = await send(`${nginx}/api/orders`, 'POST', { cookie: `access_token=${s.access}` }, 'x')
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
    const res = await send(`${nginx}/api/orders`, 'GET', headers)
    t.equal(res.status, 401, `${what}: 401`)
    t.match(res.headers['www-authenticate'], /^Bearer/, `${what}: the Bearer challenge is passed on`)
    t.equal(res.headers['www-authenticate'], challenge, `${what}: the service's own challenge, naming why`)
  }

  // TRUST_PROXY=127.0.0.1: the service sees the client nginx saw (127.0.0.2), not nginx, nor what the client claims.
  const before = logs.length
  await send(`${nginx}/api/orders`, 'GET', { authorization: 'Bearer x.y.z', 'x-forwarded-for': '203.0.113.9' })
  const refused = logs.slice(before).map((l) => JSON.parse(l) as { event?: string, ip?: string }).find((l) => l.event === 'token_invalid')
  t.equal(refused?.ip, '127.0.0.2', 'the client address nginx forwarded')

  await app.store.users.setActive(String(s.user.id), false)
  t.equal((await send(`${nginx}/api/orders`, 'GET', { authorization: `Bearer ${s.access}` })).status, 401, 'a deactivated user: 401')

  // The JWKS through nginx, fetched and used by jose as a resource server would.
  const other = await join(app)
  const { payload: verified } = await jwtVerify(other.access, createRemoteJWKSet(new URL(`${nginx}/.well-known/jwks.json`)), { algorithms: ['EdDSA'] })
  t.equal(verified.sub, other.user.id)
})
