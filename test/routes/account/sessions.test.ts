import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { refreshTokenKey } from '../../../src/tokens/tokens.js'
import { bearer, build, buildWithLogs, join, login, mypage, PASSWORD, post, refresh } from '../../helpers/app.js'

/*
 * GET /account/sessions and DELETE /account/sessions/<id> (docs/API.md,
 * "Sessions"), and what ending a session does to its tokens: refused at once
 * by every route that takes an access token (forward-auth and introspection
 * too), its refresh token revoked.
 */

const INTROSPECTION_SECRET = 'introspection-secret-of-the-sessions-test-0123456789'

const decode = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>

const list = async (app: FastifyInstance, access: string) => await app.inject({ url: '/account/sessions', headers: bearer(access) })
const end = async (app: FastifyInstance, access: string, id: string) => await app.inject({ method: 'DELETE', url: `/account/sessions/${id}`, headers: bearer(access) })

async function loginFrom (app: FastifyInstance, email: string, userAgent: string, remoteAddress: string) {
  const res = await app.inject({ method: 'POST', url: '/account/login', payload: { email, password: PASSWORD }, headers: { 'user-agent': userAgent }, remoteAddress })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`)
  return res.json() as { access: string, refresh: string }
}

t.test('every access and refresh token carries its session as sid; a refresh keeps it', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const sid = decode(s.access).sid
  t.type(sid, 'string')
  t.equal(decode(s.refresh).sid, sid)
  const next = (await refresh(app, s.refresh)).json()
  t.equal(decode(next.access).sid, sid)
  t.equal(decode(next.refresh).sid, sid)
  const other = await login(app, s.email)
  t.not(decode(other.json().access).sid, sid, 'another login, another session')
})

t.test('GET /account/sessions: newest first, with method, user agent, address and the current one marked', async (t) => {
  const app = await build(t)
  const s = await join(app, {})
  const a = await loginFrom(app, s.email, 'Phone/1.0', '203.0.113.7')
  await new Promise((resolve) => setTimeout(resolve, 1100)) // created_at is in seconds: a later second sorts after
  const b = await loginFrom(app, s.email, 'x'.repeat(2000), '198.51.100.9')
  const res = await list(app, a.access)
  t.equal(res.statusCode, 200)
  const { sessions } = res.json() as { sessions: Array<Record<string, unknown>> }
  t.equal(sessions.length, 3, 'join, and the two logins')
  t.same(sessions.map((x) => x.id), [decode(b.access).sid, decode(a.access).sid, decode(s.access).sid], 'newest first')
  const [newest, phone, joined] = sessions
  t.same(Object.keys(phone ?? {}).sort(), ['created_at', 'current', 'expires_at', 'id', 'ip', 'last_used_at', 'method', 'user_agent'])
  t.match(phone, { method: 'password', user_agent: 'Phone/1.0', ip: '203.0.113.7', current: true })
  t.equal((newest?.user_agent as string).length, 512, 'a long User-Agent is cut')
  t.match(newest, { ip: '198.51.100.9', current: false })
  t.equal(joined?.current, false)
  t.equal(Date.parse(phone?.expires_at as string), (decode(a.refresh).exp as number) * 1000, 'expires with its refresh token')
  t.equal(phone?.created_at, phone?.last_used_at)
})

t.test('a refresh moves last_used_at and expires_at', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const before = (await list(app, s.access)).json().sessions[0]
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const next = (await refresh(app, s.refresh)).json()
  const after = (await list(app, next.access)).json().sessions[0]
  t.equal(after.id, before.id)
  t.ok(Date.parse(after.last_used_at) > Date.parse(before.last_used_at), 'last_used_at moved')
  t.equal(Date.parse(after.expires_at), (decode(next.refresh).exp as number) * 1000, 'expires with the live refresh token')
  t.equal(after.created_at, before.created_at)
})

t.test('DELETE /account/sessions/<id>: its access token refused at once, its refresh token revoked; the others live on', async (t) => {
  const { app, logs } = await buildWithLogs(t, { INTROSPECTION_SECRET })
  const s = await join(app)
  const other = (await login(app, s.email)).json()
  const sid = decode(other.access).sid as string
  t.equal((await mypage(app, other.access)).statusCode, 200)

  const res = await end(app, s.access, sid)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { detail: 'Session ended.' })

  const refused = await mypage(app, other.access)
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().code, 'TOKEN_REVOKED')
  t.equal((await refresh(app, other.refresh)).json().code, 'TOKEN_REVOKED')
  const gateway = await app.inject({ url: '/account/forward-auth', headers: bearer(other.access) })
  t.equal(gateway.statusCode, 401)
  const introspected = await post(app, '/account/token/introspect', { token: other.access }, bearer(INTROSPECTION_SECRET))
  t.same(introspected.json(), { active: false })
  const verified = await app.inject({ method: 'POST', url: '/account/token/verify', payload: { token: other.access } })
  t.equal(verified.statusCode, 401)

  t.equal((await mypage(app, s.access)).statusCode, 200, 'the session used to end it lives on')
  t.same((await list(app, s.access)).json().sessions.map((x: { id: string }) => x.id), [decode(s.access).sid])
  t.equal((await end(app, s.access, sid)).statusCode, 404, 'ended already: no such session')

  const line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'session_revoked')
  t.match(line, { userId: s.user.id, sessionId: sid })
  t.notOk(logs.some((l) => l.includes(other.access) || l.includes(other.refresh)), 'no token logged')
})

t.test('ending the current session refuses the token that ended it', async (t) => {
  const app = await build(t)
  const s = await join(app)
  t.equal((await end(app, s.access, decode(s.access).sid as string)).statusCode, 200)
  t.equal((await mypage(app, s.access)).json().code, 'TOKEN_REVOKED')
})

t.test('another user\'s session, or an unknown id: 404 NOT_FOUND, nothing ended', async (t) => {
  const app = await build(t)
  const a = await join(app)
  const b = await join(app)
  const res = await end(app, a.access, decode(b.access).sid as string)
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'NOT_FOUND')
  t.equal((await mypage(app, b.access)).statusCode, 200)
  t.equal((await end(app, a.access, 'no-such-session')).json().code, 'NOT_FOUND')
  t.equal((await list(app, 'not-a-token')).statusCode, 401)
  t.equal((await app.inject({ url: '/account/sessions' })).json().code, 'TOKEN_MISSING')
})

t.test('with cookies, DELETE needs the CSRF header', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const other = (await login(app, s.email)).json()
  const sid = decode(other.access).sid as string
  const url = `/account/sessions/${sid}`
  const without = await app.inject({ method: 'DELETE', url, cookies: s.cookies })
  t.equal(without.statusCode, 403)
  t.equal(without.json().code, 'CSRF_FAILED')
  t.equal((await mypage(app, other.access)).statusCode, 200, 'nothing ended')
  const listed = await app.inject({ url: '/account/sessions', cookies: s.cookies })
  t.equal(listed.statusCode, 200, 'a GET needs no CSRF header')
  t.equal(listed.json().sessions.find((x: { current: boolean }) => x.current).id, decode(s.access).sid)
  const ok = await app.inject({ method: 'DELETE', url, cookies: s.cookies, headers: { 'x-csrf-token': s.csrf } })
  t.equal(ok.statusCode, 200)
  t.equal((await mypage(app, other.access)).statusCode, 401)
})

t.test('POST /account/logout refuses the session\'s access token at once; "all" every session', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const other = (await login(app, s.email)).json()
  const res = await post(app, '/account/logout', { refresh: s.refresh })
  t.equal(res.statusCode, 200)
  t.equal((await mypage(app, s.access)).json().code, 'TOKEN_REVOKED')
  t.equal((await mypage(app, other.access)).statusCode, 200, 'another session lives on')
  const sessions = (await list(app, other.access)).json().sessions
  t.same(sessions.map((x: { id: string }) => x.id), [decode(other.access).sid])

  t.equal((await post(app, '/account/logout', { all: true }, bearer(other.access))).statusCode, 200)
  t.equal((await mypage(app, other.access)).statusCode, 401)
  const fresh = (await login(app, s.email)).json()
  t.same((await list(app, fresh.access)).json().sessions.length, 1, 'only the new login is left')
})

t.test('a password change ends every session and starts one', async (t) => {
  const app = await build(t)
  const s = await join(app)
  await login(app, s.email)
  const res = await post(app, '/account/password/change', { old_password: PASSWORD, new_password: 'another-Long-phrase-82' }, bearer(s.access))
  t.equal(res.statusCode, 200)
  const sessions = (await list(app, res.json().access)).json().sessions
  t.equal(sessions.length, 1)
  t.match(sessions[0], { id: decode(res.json().access).sid, current: true, method: 'password' })
})

t.test('a refresh token without sid (a family started before sessions existed) still refreshes, into tokens without sid', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const jti = randomUUID()
  const { sid: _sid, ...claims } = decode(s.refresh)
  void _sid
  const old = app.keys.signRefresh({ ...claims, jti })
  // Its row as stored before this version: a family with no session.
  await app.store.refreshTokens.insertMany([{ id: refreshTokenKey(jti), userId: s.user.id as string, familyId: randomUUID(), expiresAt: claims.exp as number, createdAt: claims.iat as number }])
  const next = await refresh(app, old)
  t.equal(next.statusCode, 200, next.body)
  t.equal(decode(next.json().access).sid, undefined)
  t.equal((await mypage(app, next.json().access)).statusCode, 200)
  t.equal((await list(app, s.access)).json().sessions.length, 1, 'not listed: it has no session')
})

t.test('tokens without sid (issued before sessions existed) still work', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const claims = decode(s.access)
  const { sid: _sid, ...old } = claims
  void _sid
  const legacy = app.keys.sign({ ...old } as unknown as Parameters<typeof app.keys.sign>[0])
  // Signed by the service's key as any token it issued before this version.
  t.equal((await mypage(app, legacy)).statusCode, 200)
})

t.test('behind TRUST_PROXY, the session records the client\'s address as the proxy reports it', async (t) => {
  const app = await build(t, { TRUST_PROXY: '127.0.0.1' })
  const s = await join(app)
  const proxied = await app.inject({ method: 'POST', url: '/account/login', payload: { email: s.email, password: PASSWORD }, remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.50' } })
  const spoofed = await app.inject({ method: 'POST', url: '/account/login', payload: { email: s.email, password: PASSWORD }, remoteAddress: '192.0.2.9', headers: { 'x-forwarded-for': '203.0.113.51' } })
  const sessions = (await list(app, s.access)).json().sessions as Array<{ id: string, ip: string }>
  const ipOf = (access: string): string | undefined => sessions.find((x) => x.id === decode(access).sid)?.ip
  t.equal(ipOf(proxied.json().access), '203.0.113.50', 'through the trusted proxy')
  t.equal(ipOf(spoofed.json().access), '192.0.2.9', 'not from an untrusted peer\'s header')
})
