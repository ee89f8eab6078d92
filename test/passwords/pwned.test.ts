import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { BREACHED_PASSWORD } from '../../src/accounts/accounts.js'
import { loadConfig } from '../../src/config.js'
import { createBreachCheck, inRange, sha1Parts } from '../../src/passwords/pwned.js'
import { bearer, join, NEW_PASSWORD, PASSWORD, post, uniqueEmail } from '../helpers/app.js'
import { buildWithSmtp, resetToken } from '../helpers/smtp.js'

/*
 * PWNED_PASSWORDS_URL against a local server answering Pwned Passwords' range
 * format (`SUFFIX:COUNT` lines, padded with count-0 lines when asked), which
 * records every request it gets: only a 5-character prefix ever reaches it.
 */

const BREACHED = 'a breached Passphrase 42'
const PADDED = 'a padding-only Passphrase 43'

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex').toUpperCase()

interface RangeServer { url: string, requests: IncomingMessage[], mode: 'ok' | 'slow' | 'error' }

async function rangeServer (t: Test): Promise<RangeServer> {
  const state: RangeServer = { url: '', requests: [], mode: 'ok' }
  const server: Server = createServer((req, res) => {
    state.requests.push(req)
    if (state.mode === 'error') { res.writeHead(503).end('down'); return }
    if (state.mode === 'slow') { setTimeout(() => { if (!res.destroyed) res.end('') }, 3000).unref(); return }
    const prefix = (req.url ?? '').split('/').pop() ?? ''
    const lines: string[] = []
    for (const [password, count] of [[BREACHED, 3861493], [PADDED, 0]] as const) {
      if (sha1(password).startsWith(prefix)) lines.push(`${sha1(password).slice(5)}:${count}`)
    }
    // Padding as the real API sends it: random suffixes with count 0.
    if (req.headers['add-padding'] === 'true') for (let i = 0; i < 5; i++) lines.push(`${randomBytes(18).toString('hex').slice(0, 35).toUpperCase()}:0`)
    res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/range/`
  return state
}

t.test('the range answer: a suffix with a count above 0 is a breach; padding lines (count 0) are not', async (t) => {
  const { prefix, suffix } = sha1Parts('password')
  t.equal(prefix, '5BAA6')
  t.equal(suffix, '1E4C9B93F3F0682250B6CF8331B7EE68FD8')
  t.ok(inRange(`0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n${suffix}:9545824\r\n`, suffix))
  t.ok(inRange(`${suffix.toLowerCase()}:2`, suffix), 'case does not matter')
  t.notOk(inRange(`${suffix}:0\r\n`, suffix), 'a padding line')
  t.notOk(inRange('0018A45C4D1DEF81644B54AB7F969B88D65:1', suffix))
  t.notOk(inRange('', suffix))
})

t.test('createBreachCheck asks <url><prefix> with Add-Padding and fails open', async (t) => {
  const server = await rangeServer(t)
  const unavailable: string[] = []
  const breached = createBreachCheck({ url: server.url, timeoutMs: 300, onUnavailable: (reason) => unavailable.push(reason) })
  t.equal(await breached(BREACHED), true)
  t.equal(await breached(PADDED), false, 'listed with count 0 only')
  t.equal(await breached(NEW_PASSWORD), false)
  t.same(server.requests.map((r) => r.url), [BREACHED, PADDED, NEW_PASSWORD].map((p) => `/range/${sha1(p).slice(0, 5)}`), 'only the 5-character prefix leaves')
  t.ok(server.requests.every((r) => r.headers['add-padding'] === 'true'))
  t.same(unavailable, [])

  server.mode = 'slow'
  const started = Date.now()
  t.equal(await breached(BREACHED), false, 'a timeout lets the password through')
  t.ok(Date.now() - started < 2000, 'within the timeout')
  server.mode = 'error'
  t.equal(await breached(BREACHED), false, 'an error status too')
  // A port nothing listens on: a server's, once closed.
  const gone = createServer().listen(0, '127.0.0.1')
  await once(gone, 'listening')
  const port = (gone.address() as AddressInfo).port
  await new Promise((resolve) => gone.close(resolve))
  const closed = createBreachCheck({ url: `http://127.0.0.1:${port}/range/`, onUnavailable: (reason) => unavailable.push(reason) })
  t.equal(await closed(BREACHED), false, 'an unreachable server too')
  t.match(unavailable, [/no answer within 300 ms/, /answered 503/, /request failed \(TypeError: ECONNREFUSED\)/])
  t.notOk(unavailable.join(' ').includes(sha1(BREACHED).slice(0, 5)), 'the reasons never hold the hash or its prefix')
})

t.test('PWNED_PASSWORDS_URL is unset by default, and must be an http(s) URL', async (t) => {
  t.equal(loadConfig({}).pwnedPasswordsUrl, undefined)
  t.equal(loadConfig({ PWNED_PASSWORDS_URL: 'https://api.pwnedpasswords.com/range/' }).pwnedPasswordsUrl, 'https://api.pwnedpasswords.com/range/')
  t.throws(() => loadConfig({ PWNED_PASSWORDS_URL: 'ftp://example.com/' }), /PWNED_PASSWORDS_URL must be an absolute http/)
})

t.test('join, password change and reset refuse a breached password with WEAK_PASSWORD', async (t) => {
  const server = await rangeServer(t)
  const { app, smtp, logs } = await buildWithSmtp(t, { PWNED_PASSWORDS_URL: server.url })

  const refused = await post(app, '/account/join', { email: uniqueEmail(), password: BREACHED })
  t.equal(refused.statusCode, 400)
  t.match(refused.json(), { statusCode: 400, code: 'WEAK_PASSWORD', message: BREACHED_PASSWORD })
  t.match(BREACHED_PASSWORD, /has appeared in a data breach/)
  t.equal((await post(app, '/account/join', { email: uniqueEmail(), password: PADDED })).statusCode, 201, 'a padding line is no breach')

  const s = await join(app)
  const change = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: BREACHED }, bearer(s.access))
  t.equal(change.statusCode, 400)
  t.match(change.json(), { statusCode: 400, code: 'WEAK_PASSWORD', message: BREACHED_PASSWORD })

  const token = await resetToken(app, smtp, s.email)
  const reset = await post(app, '/account/password/reset/confirm', { token, new_password: BREACHED })
  t.equal(reset.statusCode, 400)
  t.match(reset.json(), { statusCode: 400, code: 'WEAK_PASSWORD', message: BREACHED_PASSWORD })
  t.equal((await post(app, '/account/password/reset/confirm', { token, new_password: NEW_PASSWORD })).statusCode, 200, 'the link still works with another password')

  // The range server is down: the password goes through, with a warning that holds neither it nor its hash.
  server.mode = 'error'
  const through = await post(app, '/account/join', { email: uniqueEmail(), password: BREACHED })
  t.equal(through.statusCode, 201)
  const warning = logs.find((l) => l.includes('"event":"pwned_passwords_unavailable"'))
  t.match(warning, /"level":40/)
  const all = logs.join('')
  t.notOk(all.includes(BREACHED) || all.includes(sha1(BREACHED).slice(0, 5)) || all.includes(sha1(BREACHED).slice(5)), 'no password, hash or prefix in the logs')
})

t.test('without PWNED_PASSWORDS_URL nothing is asked', async (t) => {
  const server = await rangeServer(t)
  const { app } = await buildWithSmtp(t)
  t.equal((await post(app, '/account/join', { email: uniqueEmail(), password: BREACHED })).statusCode, 201)
  t.equal(server.requests.length, 0)
})
