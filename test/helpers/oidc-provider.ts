import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync } from 'node:crypto'
import type { Test } from 'tap'

/*
 * A real OpenID Provider for the social login tests: the `oidc-provider`
 * package (a certified implementation) on 127.0.0.1, with its development
 * login and consent pages, and accounts the test defines. `signIn` follows
 * those pages with plain HTTP (fetch and a cookie jar) from the authorization
 * URL to the redirect back to the service's callback.
 */

export interface TestAccount {
  email?: string
  email_verified?: boolean
  name?: string
}

export interface TestProvider {
  issuer: string
  clientId: string
  clientSecret: string
  /** The accounts by id (the login name typed on the development login page). */
  accounts: Map<string, TestAccount>
  /** Follows the provider's pages for `authorizationUrl`, logging in as `accountId`: the URL it redirects to at the end (the callback, with code and state). */
  signIn: (authorizationUrl: string, accountId: string, options?: { deny?: boolean }) => Promise<URL>
  /** The provider's private signing key as a JWK (kid included), to sign ID tokens of one's own that the provider's JWKS verifies. */
  signingJwk: Record<string, unknown>
}

export async function startOidcProvider (t: Test, options: { redirectUris: string[], clientId?: string }): Promise<TestProvider> {
  // The package has no type declarations: what the test uses of it, typed here.
  const name = 'oidc-provider'
  const { default: Provider } = await import(name) as {
    default: new (issuer: string, configuration: unknown) => { callback: () => (req: IncomingMessage, res: ServerResponse) => void }
  }
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }) })
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const clientId = options.clientId ?? 'service-client'
  const clientSecret = 'provider-test-client-secret-0123456789'
  const accounts = new Map<string, TestAccount>()
  const signingJwk = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' }
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: options.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code']
    }],
    jwks: { keys: [signingJwk as never] },
    cookies: { keys: ['oidc-provider-test-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true } },
    // The test's accounts; an unknown login name is a user with no email.
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, ...accounts.get(id) })
    }),
    // Consent for the requested scopes is asked on a page of its own (followed by signIn).
    pkce: { required: () => true }
  })
  // Plain http on 127.0.0.1 (no proxy).
  server.on('request', provider.callback())

  async function signIn (authorizationUrl: string, accountId: string, { deny = false } = {}): Promise<URL> {
    const jar = new Map<string, string>()
    const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const remember = (res: Response) => {
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';')
        const eq = pair!.indexOf('=')
        const name = pair!.slice(0, eq)
        const value = pair!.slice(eq + 1)
        if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') jar.delete(name)
        else jar.set(name, value)
      }
    }
    let url = new URL(authorizationUrl)
    for (let step = 0; step < 12; step++) {
      if (!url.href.startsWith(issuer)) return url
      let res = await fetch(url, { redirect: 'manual', headers: { cookie: cookieHeader() } })
      remember(res)
      if (res.status === 200 && url.pathname.startsWith('/interaction/')) {
        const html = await res.text()
        if (deny) {
          // The development pages' "cancel": the provider answers access_denied.
          res = await fetch(new URL(`${url.pathname}/abort`, issuer), { redirect: 'manual', headers: { cookie: cookieHeader() } })
        } else {
          const form: Record<string, string> = html.includes('name="login"') ? { prompt: 'login', login: accountId, password: 'any' } : { prompt: 'consent' }
          res = await fetch(url, {
            method: 'POST',
            redirect: 'manual',
            headers: { cookie: cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams(form).toString()
          })
        }
        remember(res)
      }
      const location = res.headers.get('location')
      if (location === null) throw new Error(`the provider answered ${res.status} at ${url.pathname}: ${(await res.text()).slice(0, 300)}`)
      url = new URL(location, url)
    }
    throw new Error('the provider did not redirect back')
  }

  return { issuer, clientId, clientSecret, accounts, signIn, signingJwk }
}
