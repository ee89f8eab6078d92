import { createHash, generateKeyPairSync, randomUUID, verify } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { appleClientSecret } from '../../src/social/apple.js'
import { withAppleName } from '../../src/social/providers.js'
import { build, cookiesOf, tempDir, uniqueEmail } from '../helpers/app.js'

/*
 * GitHub and Naver, which have no OpenID Connect, against a local stand-in that
 * follows their documented endpoints (authorize, token, user, emails; Naver's
 * nid/me): the browser flow and the access tokens native apps post. And
 * Apple's client secret, an ES256 JWT signed with node:crypto.
 */

const PUBLIC_URL = 'http://127.0.0.1:3000/'

interface StandIn { base: string, users: Map<string, { id: string, email: string, verified: boolean, name: string }>, tokens: Map<string, string> }

const body = async (req: IncomingMessage): Promise<string> => {
  let text = ''
  for await (const chunk of req) text += String(chunk)
  return text
}

/** GitHub's and Naver's endpoints on one origin (SOCIAL_<NAME>_BASE_URL). */
async function startStandIn (t: Test, clientId: string, clientSecret: string): Promise<StandIn> {
  const users = new Map<string, { id: string, email: string, verified: boolean, name: string }>()
  const codes = new Map<string, { login: string, challenge: string | null }>()
  const tokens = new Map<string, string>() // access token → login
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const json = (status: number, value: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value)) }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      const who = bearer === undefined ? undefined : users.get(tokens.get(bearer) ?? '')
      if (req.method === 'GET' && (url.pathname === '/login/oauth/authorize' || url.pathname === '/oauth2.0/authorize')) {
        // The user approves at once, as `login` (the test's choice).
        const code = randomUUID()
        codes.set(code, { login: url.searchParams.get('login') ?? 'octo', challenge: url.searchParams.get('code_challenge') })
        const back = new URL(url.searchParams.get('redirect_uri') ?? '')
        back.searchParams.set('code', code)
        back.searchParams.set('state', url.searchParams.get('state') ?? '')
        res.writeHead(302, { location: back.toString() }).end()
        return
      }
      if (req.method === 'POST' && (url.pathname === '/login/oauth/access_token' || url.pathname === '/oauth2.0/token')) {
        const form = new URLSearchParams(await body(req))
        const grant = codes.get(form.get('code') ?? '')
        codes.delete(form.get('code') ?? '')
        const pkceOk = grant?.challenge === null || createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url') === grant?.challenge
        if (grant === undefined || form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret || !pkceOk) {
          json(200, { error: 'bad_verification_code' }) // GitHub answers errors with 200
          return
        }
        const token = randomUUID()
        tokens.set(token, grant.login)
        // Naver documents expires_in as a string.
        json(200, url.pathname === '/oauth2.0/token' ? { access_token: token, token_type: 'bearer', expires_in: '3600' } : { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' })
        return
      }
      if (url.pathname === '/user' || url.pathname === '/user/emails' || url.pathname === '/v1/nid/me') {
        if (who === undefined) { json(401, { message: 'Bad credentials' }); return }
        if (url.pathname === '/user') json(200, { id: Number(who.id), login: `login-${who.id}`, name: who.name })
        else if (url.pathname === '/user/emails') json(200, [{ email: `other-${who.email}`, primary: false, verified: true }, { email: who.email, primary: true, verified: who.verified }])
        else json(200, { resultcode: '00', message: 'success', response: { id: who.id, email: who.email, name: who.name } })
        return
      }
      const check = /^\/applications\/([^/]+)\/token$/.exec(url.pathname)
      if (req.method === 'POST' && check !== null) {
        const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64')
        const posted = JSON.parse(await body(req)) as { access_token?: string }
        if (req.headers.authorization !== `Basic ${basic}` || check[1] !== clientId) { json(401, {}); return }
        json(tokens.has(posted.access_token ?? '') ? 200 : 404, {})
        return
      }
      json(404, {})
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }) })
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, users, tokens }
}

async function setUp (t: Test) {
  const standIn = await startStandIn(t, 'client-1', 'secret-1')
  const app = await build(t, {
    PUBLIC_URL,
    SOCIAL_PROVIDERS: 'github,naver',
    SOCIAL_GITHUB_CLIENT_ID: 'client-1',
    SOCIAL_GITHUB_CLIENT_SECRET: 'secret-1',
    SOCIAL_GITHUB_BASE_URL: standIn.base,
    SOCIAL_NAVER_CLIENT_ID: 'client-1',
    SOCIAL_NAVER_CLIENT_SECRET: 'secret-1',
    SOCIAL_NAVER_BASE_URL: standIn.base
  })
  return { app, standIn }
}

/** start → the stand-in's authorize (approving as `login`) → callback. */
async function browserFlow (app: FastifyInstance, provider: string, login: string) {
  const start = await app.inject({ method: 'GET', url: `/account/social/${provider}/start` })
  const authorize = new URL(String(start.headers.location))
  authorize.searchParams.set('login', login)
  const back = new URL(String((await fetch(authorize, { redirect: 'manual' })).headers.get('location')))
  return { authorize, res: await app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, cookies: { social_state: cookiesOf(start).social_state ?? '' } }) }
}

t.test('GitHub: the code exchanged with PKCE, the primary address and whether GitHub verified it', async (t) => {
  const { app, standIn } = await setUp(t)
  const email = uniqueEmail()
  standIn.users.set('octo', { id: '583231', email, verified: true, name: 'The Octocat' })
  const { authorize, res } = await browserFlow(app, 'github', 'octo')
  t.equal(authorize.pathname, '/login/oauth/authorize')
  t.equal(authorize.searchParams.get('scope'), 'read:user user:email')
  t.equal(authorize.searchParams.get('code_challenge_method'), 'S256')
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, PUBLIC_URL)
  t.ok(cookiesOf(res).access_token, 'logged in')
  t.match(await app.store.users.byEmail(email), { name: 'The Octocat', emailVerified: true })
  t.match(await app.store.socialIdentities.byProviderSubject('github', '583231'), { email })
})

t.test('Naver: nid/me\'s id, email and name; its address is never taken as verified', async (t) => {
  const { app, standIn } = await setUp(t)
  const email = uniqueEmail()
  standIn.users.set('naver-user', { id: 'naver-id-1', email, verified: true, name: '홍길동' })
  const { authorize, res } = await browserFlow(app, 'naver', 'naver-user')
  t.equal(authorize.pathname, '/oauth2.0/authorize')
  t.equal(res.statusCode, 302)
  t.ok(cookiesOf(res).access_token, 'logged in')
  t.match(await app.store.users.byEmail(email), { name: '홍길동', emailVerified: false })
})

t.test('POST …/token with an access token: GitHub checks it was issued to this app', async (t) => {
  const { app, standIn } = await setUp(t)
  const email = uniqueEmail()
  standIn.users.set('app-user', { id: '77', email, verified: true, name: 'App User' })
  const token = randomUUID()
  standIn.tokens.set(token, 'app-user')
  const ok = await app.inject({ method: 'POST', url: '/account/social/github/token', payload: { access_token: token } })
  t.equal(ok.statusCode, 200, ok.body)
  t.match(ok.json(), { user: { email, email_verified: true }, access: String })
  const unknown = await app.inject({ method: 'POST', url: '/account/social/github/token', payload: { access_token: 'not-ours' } })
  t.equal(unknown.statusCode, 401)
  t.equal(unknown.json().code, 'SOCIAL_TOKEN_INVALID')
  standIn.users.set('naver-app-user', { id: 'n-77', email: uniqueEmail(), verified: false, name: 'Naver User' })
  const naverToken = randomUUID()
  standIn.tokens.set(naverToken, 'naver-app-user')
  const naver = await app.inject({ method: 'POST', url: '/account/social/naver/token', payload: { access_token: naverToken } })
  t.equal(naver.statusCode, 200, 'Naver: nid/me answers for the token')
  // The GitHub user's address at Naver, which does not say it is verified: not linked.
  standIn.users.set('naver-same-address', { id: 'n-78', email, verified: true, name: 'Same' })
  const sameToken = randomUUID()
  standIn.tokens.set(sameToken, 'naver-same-address')
  const same = await app.inject({ method: 'POST', url: '/account/social/naver/token', payload: { access_token: sameToken } })
  t.equal(same.statusCode, 409)
  t.equal(same.json().code, 'SOCIAL_EMAIL_IN_USE')
  const idToken = await app.inject({ method: 'POST', url: '/account/social/github/token', payload: { id_token: 'x.y.z' } })
  t.equal(idToken.statusCode, 400, 'GitHub has no ID tokens')
})

t.test('Apple\'s client secret: an ES256 JWT from the team, for Apple, about the client id', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const dir = tempDir(t)
  writeFileSync(join(dir, 'key.p8'), privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const now = Date.UTC(2026, 0, 1)
  const jwt = appleClientSecret('com.example.web', { teamId: 'TEAM123456', keyId: 'KEY1234567', privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }, now)
  const [header, payload, signature] = jwt.split('.')
  t.same(JSON.parse(Buffer.from(header!, 'base64url').toString()), { alg: 'ES256', kid: 'KEY1234567', typ: 'JWT' })
  t.same(JSON.parse(Buffer.from(payload!, 'base64url').toString()), { iss: 'TEAM123456', iat: now / 1000, exp: now / 1000 + 86400, aud: 'https://appleid.apple.com', sub: 'com.example.web' })
  t.ok(verify('sha256', Buffer.from(`${header!}.${payload!}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature!, 'base64url')), 'a P-256 signature in JWS form')
})

t.test('Apple\'s name: from the form POST\'s `user` field, only into an empty name', async (t) => {
  const profile = { provider: 'apple', subject: '001.abc', email: 'a@privaterelay.appleid.com', emailVerified: true, name: '' }
  const user = JSON.stringify({ name: { firstName: 'Ana', lastName: 'Kim' }, email: 'a@privaterelay.appleid.com' })
  t.equal(withAppleName(profile, user).name, 'Ana Kim', 'the first sign-in\'s name')
  t.equal(withAppleName(profile, JSON.stringify({ name: { firstName: 'Ana' } })).name, 'Ana')
  t.same(withAppleName(profile, null), profile, 'later sign-ins send none')
  t.same(withAppleName(profile, '{not json'), profile, 'a malformed field changes nothing')
  t.same(withAppleName(profile, JSON.stringify({ name: { firstName: 42 } })), profile, 'nor a name that is not text')
  t.equal(withAppleName({ ...profile, name: 'From the token' }, user).name, 'From the token', 'never over a name the ID token gave')
  t.equal(withAppleName(profile, JSON.stringify({ email: 'other@example.com' })).email, profile.email, 'its email is never taken (unsigned)')
})
