import { connect } from 'node:net'
import { STATUS_CODES } from 'node:http'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/app.js'

/*
 * Requests Node's HTTP parser refuses before Fastify sees a request (so
 * app.inject cannot send them): headers over 16 KiB, bytes not allowed in
 * HTTP, a broken request line or chunked body, request-smuggling shapes.
 * Each must still get the contract's JSON error shape — never a bare status
 * line, a 5xx, or a hang.
 */

async function listen (t: Parameters<typeof testConfig>[0]): Promise<{ app: FastifyInstance, port: number }> {
  const app = await buildApp(testConfig(t))
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as { port: number }).port }
}

/** Sends raw bytes; resolves with everything the server wrote before closing (or after 5 s of silence). */
async function raw (port: number, bytes: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const done = (): void => { socket.destroy(); resolve(data) }
    socket.setTimeout(5000, done)
    socket.on('data', (d: Buffer) => { data += d.toString('latin1') })
    socket.on('end', done)
    socket.on('close', done)
    socket.on('error', (err) => { if (data === '') reject(err); else done() })
    socket.write(bytes, 'latin1')
  })
}

function parse (response: string): { status: number, headers: string, body: string } {
  const [head = '', ...rest] = response.split('\r\n\r\n')
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: rest.join('\r\n\r\n') }
}

const big = 'x'.repeat(20 * 1024)
const cases: Array<[string, string, number, string]> = [
  ['a 20 KiB Authorization header', `GET /account/mypage HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${big}\r\n\r\n`, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE'],
  ['a 20 KiB cookie', `GET /account/mypage HTTP/1.1\r\nHost: a\r\nCookie: access_token=${big}\r\n\r\n`, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE'],
  ['a space in a header name', 'GET /health HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n', 400, 'VALIDATION_ERROR'],
  ['a NUL byte in a header value', 'GET /health HTTP/1.1\r\nHost: a\r\nX-Csrf-Token: a\u0000b\r\n\r\n', 400, 'VALIDATION_ERROR'],
  ['a broken request line', 'GET\r\n\r\n', 400, 'VALIDATION_ERROR'],
  ['not HTTP at all', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\r\n\r\n', 400, 'VALIDATION_ERROR'],
  ['a broken chunked body', 'POST /account/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 400, 'VALIDATION_ERROR'],
  ['Content-Length and Transfer-Encoding together', 'POST /account/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n', 400, 'VALIDATION_ERROR'],
  ['two different Content-Lengths', 'POST /account/login HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400, 'VALIDATION_ERROR']
]

t.test('malformed HTTP gets the contract error shape', async (t) => {
  const { port } = await listen(t)
  for (const [what, bytes, status, code] of cases) {
    const res = parse(await raw(port, bytes))
    t.equal(res.status, status, `${what}: ${res.headers.split('\r\n')[0] ?? '(nothing)'}`)
    let json: { message?: string, details?: Array<{ message?: string }> } = {}
    try { json = JSON.parse(res.body) as typeof json } catch { t.fail(`${what}: body is not JSON: ${res.body.slice(0, 200)}`) }
    const details = code === 'VALIDATION_ERROR' ? { details: [{ field: 'request', message: json.details?.[0]?.message }] } : {}
    t.same(json, { statusCode: status, error: STATUS_CODES[status], code, message: json.message, ...details }, `${what}: shape`)
    if (code === 'VALIDATION_ERROR') t.match(json.details?.[0]?.message, /^is not valid HTTP\/1\.1: \S/, `${what}: says why`)
    t.type(json.message, 'string')
    t.match(res.headers, /content-type: application\/json/i, `${what}: JSON content type`)
    // No request hook ran, yet the answer has the security headers of every other one.
    t.match(res.headers, /\r\nx-content-type-options: nosniff\r\n/i, `${what}: nosniff`)
    t.match(res.headers, /\r\nx-frame-options: DENY\r\n/i, `${what}: not framed`)
    t.match(res.headers, /\r\ncontent-security-policy: default-src 'self'/i, `${what}: CSP`)
  }
  // And the server is unharmed.
  t.match(await raw(port, 'GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /)
})
