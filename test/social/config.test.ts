import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { tempDir } from '../helpers/app.js'

/*
 * SOCIAL_PROVIDERS and the per-provider variables: presets, generic OpenID
 * Connect providers, and a refusal naming the variable for what is missing or wrong.
 */

const load = (env: NodeJS.ProcessEnv, cwd?: string) => loadConfig({ DATABASE_URL: 'file:/tmp/x.db', ...env }, cwd)

t.test('no providers by default; SOCIAL_REDIRECT_URL defaults to PUBLIC_URL; SOCIAL_MFA to true', async (t) => {
  const config = load({ PUBLIC_URL: 'https://auth.example.com/' })
  t.same(config.social, { providers: [], redirectUrl: 'https://auth.example.com/', mfa: true })
})

t.test('SOCIAL_MFA: a boolean, refused otherwise with one line naming it', async (t) => {
  t.equal(load({ SOCIAL_MFA: 'false' }).social.mfa, false)
  t.equal(load({ SOCIAL_MFA: 'on' }).social.mfa, true)
  t.throws(() => load({ SOCIAL_MFA: 'maybe' }), /SOCIAL_MFA must be true or false, got "maybe"/)
})

t.test('presets: google, kakao (OpenID Connect), github, naver (OAuth 2.0)', async (t) => {
  const config = load({
    SOCIAL_PROVIDERS: 'google, kakao,github,naver',
    SOCIAL_GOOGLE_CLIENT_ID: 'g-id',
    SOCIAL_GOOGLE_CLIENT_SECRET: 'g-secret',
    SOCIAL_GOOGLE_AUDIENCES: 'ios-id,android-id',
    SOCIAL_KAKAO_CLIENT_ID: 'k-id',
    SOCIAL_KAKAO_CLIENT_SECRET: 'k-secret',
    SOCIAL_GITHUB_CLIENT_ID: 'gh-id',
    SOCIAL_GITHUB_CLIENT_SECRET: 'gh-secret',
    SOCIAL_NAVER_CLIENT_ID: 'n-id',
    SOCIAL_NAVER_CLIENT_SECRET: 'n-secret',
    SOCIAL_NAVER_BASE_URL: 'http://127.0.0.1:9999',
    SOCIAL_REDIRECT_URL: 'https://app.example.com/after'
  })
  t.match(config.social.providers, [
    { name: 'google', kind: 'oidc', issuer: 'https://accounts.google.com', label: 'Google', scopes: 'openid email profile', audiences: ['g-id', 'ios-id', 'android-id'] },
    { name: 'kakao', kind: 'oidc', issuer: 'https://kauth.kakao.com', clientSecret: 'k-secret' },
    { name: 'github', kind: 'github', authorizationUrl: 'https://github.com/login/oauth/authorize', apiUrl: 'https://api.github.com' },
    { name: 'naver', kind: 'naver', authorizationUrl: 'http://127.0.0.1:9999/oauth2.0/authorize', tokenUrl: 'http://127.0.0.1:9999/oauth2.0/token', apiUrl: 'http://127.0.0.1:9999' }
  ])
  t.equal(config.social.redirectUrl, 'https://app.example.com/after')
})

t.test('a generic provider needs its issuer; scopes must include openid', async (t) => {
  const base = { SOCIAL_PROVIDERS: 'my-idp', SOCIAL_MY_IDP_CLIENT_ID: 'id', SOCIAL_MY_IDP_CLIENT_SECRET: 's' }
  t.throws(() => load(base), { name: 'ConfigError', message: /^SOCIAL_MY_IDP_ISSUER / })
  t.match(load({ ...base, SOCIAL_MY_IDP_ISSUER: 'https://idp.example.com/' }).social.providers[0], { issuer: 'https://idp.example.com', label: 'my-idp' })
  t.throws(() => load({ ...base, SOCIAL_MY_IDP_ISSUER: 'https://idp.example.com', SOCIAL_MY_IDP_SCOPES: 'email' }), { message: /^SOCIAL_MY_IDP_SCOPES / })
  t.throws(() => load({ ...base, SOCIAL_MY_IDP_ISSUER: 'not a url' }), { message: /^SOCIAL_MY_IDP_ISSUER / })
})

t.test('one line naming the variable for what is missing or wrong', async (t) => {
  t.throws(() => load({ SOCIAL_PROVIDERS: 'google' }), { message: /^SOCIAL_GOOGLE_CLIENT_ID must be set/ })
  t.throws(() => load({ SOCIAL_PROVIDERS: 'google', SOCIAL_GOOGLE_CLIENT_ID: 'x' }), { message: /^SOCIAL_GOOGLE_CLIENT_SECRET / })
  t.throws(() => load({ SOCIAL_PROVIDERS: 'Google' }), { message: /^SOCIAL_PROVIDERS / })
  t.throws(() => load({ SOCIAL_PROVIDERS: 'providers' }), { message: /^SOCIAL_PROVIDERS / }, 'a name the routes use')
  t.throws(() => load({ SOCIAL_PROVIDERS: 'github,github', SOCIAL_GITHUB_CLIENT_ID: 'x', SOCIAL_GITHUB_CLIENT_SECRET: 'y' }), { message: /^SOCIAL_PROVIDERS / })
  t.throws(() => load({ SOCIAL_REDIRECT_URL: 'ftp://x' }), { message: /^SOCIAL_REDIRECT_URL / })
})

t.test('apple: the client secret is made from the team id, key id and a P-256 key file', async (t) => {
  const dir = tempDir(t)
  const base = { SOCIAL_PROVIDERS: 'apple', SOCIAL_APPLE_CLIENT_ID: 'com.example.web' }
  t.throws(() => load(base), { message: /^SOCIAL_APPLE_TEAM_ID / })
  t.throws(() => load({ ...base, SOCIAL_APPLE_TEAM_ID: 'T', SOCIAL_APPLE_KEY_ID: 'K', SOCIAL_APPLE_PRIVATE_KEY_FILE: 'missing.p8' }, dir), { message: /^SOCIAL_APPLE_PRIVATE_KEY_FILE cannot be read/ })
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })
  writeFileSync(join(dir, 'rsa.pem'), rsa)
  t.throws(() => load({ ...base, SOCIAL_APPLE_TEAM_ID: 'T', SOCIAL_APPLE_KEY_ID: 'K', SOCIAL_APPLE_PRIVATE_KEY_FILE: 'rsa.pem' }, dir), { message: /^SOCIAL_APPLE_PRIVATE_KEY_FILE must be a P-256/ })
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' })
  writeFileSync(join(dir, 'AuthKey.p8'), ec)
  const apple = load({ ...base, SOCIAL_APPLE_TEAM_ID: 'T', SOCIAL_APPLE_KEY_ID: 'K', SOCIAL_APPLE_PRIVATE_KEY_FILE: 'AuthKey.p8' }, dir).social.providers[0]
  t.match(apple, { name: 'apple', kind: 'oidc', issuer: 'https://appleid.apple.com', apple: { teamId: 'T', keyId: 'K' } })
})
