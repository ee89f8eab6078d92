import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { publicUser } from '../../../src/accounts/accounts.js'
import type { SocialIdentity } from '../../../src/db/store.js'
import { AccountInactiveError, FieldValidationError, MfaRequiredError, SocialStateInvalidError } from '../../../src/errors.js'
import { Detail, errors, LoginErrorBody, NO_NUL, TOKEN_MAX_LENGTH, UserWithTokens } from '../../../src/schemas.js'
import { codeChallenge, newChecks, openState, safeNext, sealState, STATE_COOKIE, STATE_LIFETIME } from '../../../src/social/state.js'

/*
 * Social login (docs/API.md "Social login"): the browser flow (start →
 * provider → callback), the native apps' token exchange, and the signed-in
 * user's linked accounts. Every route of /account/social/<name>/… answers 404
 * NOT_FOUND for a name not in SOCIAL_PROVIDERS.
 */

const NameParams = Type.Object({ name: Type.String({ pattern: '^[a-z0-9-]{1,32}$' }) })
const StartQuery = Type.Object({
  next: Type.Optional(Type.String({ maxLength: 2048, pattern: NO_NUL })),
  link: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')]))
})
const TokenBody = Type.Object({
  id_token: Type.Optional(Type.String({ minLength: 1, maxLength: TOKEN_MAX_LENGTH, pattern: NO_NUL })),
  access_token: Type.Optional(Type.String({ minLength: 1, maxLength: TOKEN_MAX_LENGTH, pattern: NO_NUL }))
}, { additionalProperties: false })
const IdentitySchema = Type.Object({
  provider: Type.String(),
  email: Type.String({ description: 'The address the provider gave at the last sign-in ("" when none).' }),
  linked_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()])
})
const ProviderSchema = Type.Object({
  name: Type.String(),
  label: Type.String(),
  start_url: Type.String({ description: 'GET it in the browser (a link or a navigation, not fetch) to sign in.' })
})

const publicIdentity = (identity: SocialIdentity) => ({
  provider: identity.provider,
  email: identity.email,
  linked_at: new Date(identity.createdAt * 1000).toISOString(),
  last_used_at: identity.lastUsedAt === null ? null : new Date(identity.lastUsedAt * 1000).toISOString()
})

/** Codes a browser may be told in ?error=: the contract's own, never an internal error's. */
const browserCode = (err: unknown): string => {
  const { code, statusCode } = err as { code?: unknown, statusCode?: unknown }
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) && typeof statusCode === 'number' && statusCode < 500
    ? code
    : typeof code === 'string' && /^(SERVICE_UNAVAILABLE|SOCIAL_PROVIDER_UNAVAILABLE)$/.test(code) ? code : 'SOCIAL_LOGIN_FAILED'
}

const social: FastifyPluginAsyncTypebox = async (app) => {
  const { redirectUrl } = app.config.social

  /** SOCIAL_REDIRECT_URL?error=CODE: how the browser flow fails, with no login cookie. */
  const fail = (request: FastifyRequest, reply: FastifyReply, err: unknown, provider: string) => {
    const code = browserCode(err)
    if (code === 'SOCIAL_LOGIN_FAILED') request.log.error({ err, provider }, 'social sign-in failed')
    const url = new URL(redirectUrl)
    url.searchParams.set('error', code)
    // SOCIAL_MFA: the code is asked for by the landing page, which posts it
    // with this mfa_token to POST /account/login/mfa. In the fragment: never
    // sent to a server, so neither in access logs nor in a Referer.
    if (err instanceof MfaRequiredError) url.hash = new URLSearchParams({ mfa_token: err.mfaToken }).toString()
    return app.social.stateCookie(reply, undefined, provider).header('cache-control', 'no-store').redirect(url.toString(), 302)
  }

  app.get('/providers', {
    schema: { tags: ['social'], response: { 200: Type.Object({ providers: Type.Array(ProviderSchema) }) } }
  }, async () => ({
    providers: [...app.social.clients.values()].map(({ config }) => ({
      name: config.name,
      label: config.label,
      start_url: new URL(`account/social/${config.name}/start`, app.config.publicUrl).toString()
    }))
  }))

  app.get('', {
    schema: { tags: ['social'], response: { 200: Type.Object({ identities: Type.Array(IdentitySchema) }), ...errors(401, 403) } },
    onRequest: app.authenticate
  }, async (request) => ({ identities: (await app.accounts.socialIdentities(request.user)).map(publicIdentity) }))

  app.delete('/:name', {
    schema: { tags: ['social'], params: NameParams, response: { 200: Detail, ...errors(401, 403, 404, 409) } },
    onRequest: app.authenticate
  }, async (request) => {
    // Any linked provider, configured or not (one imported from Django, or removed from SOCIAL_PROVIDERS since).
    await app.accounts.unlinkSocial(request.user, request.params.name)
    request.log.info({ event: 'social_unlinked', userId: request.user.id, provider: request.params.name, ip: request.ip }, 'social login unlinked')
    return { detail: 'Unlinked.' }
  })

  app.get('/:name/start', {
    schema: { tags: ['social'], params: NameParams, querystring: StartQuery, response: errors(404) }
  }, async (request, reply) => {
    const client = app.social.client(request.params.name)
    try {
      const next = request.query.next === undefined ? '' : safeNext(redirectUrl, request.query.next)
      if (next === undefined) throw new FieldValidationError([{ field: 'next', message: 'must be a path on SOCIAL_REDIRECT_URL\'s origin' }])
      // Linking needs the session of the user it links to; the callback links to that user.
      const linkUserId = request.query.link === 'true' ? (await app.requireUser(request)).id : undefined
      const checks = newChecks()
      const location = await client.authorizationUrl(app.social.callbackUrl(client.config.name), checks, codeChallenge(checks.verifier))
      const sealed = sealState(await app.social.stateKey(), client.config.name, {
        ...checks, next, expiresAt: Math.floor(Date.now() / 1000) + STATE_LIFETIME, ...(linkUserId === undefined ? {} : { linkUserId })
      })
      return await app.social.stateCookie(reply, sealed, client.config.name).header('cache-control', 'no-store').redirect(location.toString(), 302)
    } catch (err) {
      return await fail(request, reply, err, client.config.name)
    }
  })

  /** The callback, whether its parameters came in the query or (Apple's form_post) in a form body. */
  const handleCallback = async (request: FastifyRequest, reply: FastifyReply, name: string, params: URLSearchParams) => {
    const client = app.social.client(name)
    const provider = client.config.name
    try {
      const sealed = request.cookies[STATE_COOKIE]
      const current = new URL(app.social.callbackUrl(provider))
      current.search = params.toString()
      const state = sealed === undefined || sealed === '' ? undefined : openState(await app.social.stateKey(), provider, sealed, Math.floor(Date.now() / 1000))
      // The state comes back from the provider and must be this browser's: a
      // callback this browser did not start (login CSRF), or a second use of
      // one (the cookie is expired by the first), is refused here.
      if (state === undefined || current.searchParams.get('state') !== state.state) {
        request.log.info({ event: 'social_refused', provider, reason: state === undefined ? 'no valid state cookie' : 'state does not match' }, 'social sign-in refused')
        throw new SocialStateInvalidError()
      }
      const profile = await client.callback(current, state)
      const landing = state.next === '' ? redirectUrl : state.next
      if (state.linkUserId !== undefined) {
        const user = await app.store.users.byId(state.linkUserId)
        if (user === undefined || !user.isActive) throw new AccountInactiveError()
        await app.accounts.linkSocial(user, profile)
        request.log.info({ event: 'social_linked', automatic: false, userId: user.id, provider, ip: request.ip }, 'social login linked')
        return await app.social.stateCookie(reply, undefined, provider).header('cache-control', 'no-store').redirect(landing, 302)
      }
      const { tokens } = await app.social.signIn(request, profile)
      return await app.social.stateCookie(reply, undefined, provider).setAuthCookies(tokens).redirect(landing, 302)
    } catch (err) {
      return await fail(request, reply, err, provider)
    }
  }

  // Each callback may cost a request to the provider (the code exchange):
  // RATE_LIMIT_LOGIN_MAX per client address, the GET and the form POST together.
  const callbackLimit = app.ipLimit('social-callback', app.config.rateLimit.loginMax)

  app.get('/:name/callback', {
    schema: { tags: ['social'], params: NameParams, response: errors(404) },
    ...callbackLimit
  }, async (request, reply) => await handleCallback(request, reply, request.params.name, new URL(request.url, 'http://x').searchParams))

  // Apple's response_mode=form_post: the same callback as a form POST from the
  // provider's page. Forms are parsed for this route only (everywhere else the
  // service takes JSON alone, plugins/app/body.ts); the sealed state is what
  // makes a POST from another site harmless.
  await app.register(async (formRoute) => {
    formRoute.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    })
    formRoute.withTypeProvider<TypeBoxTypeProvider>().post('/:name/callback', {
      schema: { tags: ['social'], params: NameParams, body: Type.Record(Type.String(), Type.String()), response: errors(404) },
      ...callbackLimit
    }, async (request, reply) => await handleCallback(request, reply, request.params.name, new URLSearchParams(request.body)))
  })

  // dj-rest-auth's SocialLoginView: a native app signed in with the provider's SDK.
  app.post('/:name/token', {
    schema: { tags: ['social'], params: NameParams, body: TokenBody, response: { 200: UserWithTokens, ...errors(400, 403, 404, 409, 502), 401: LoginErrorBody } },
    // RATE_LIMIT_LOGIN_MAX per client address, as the password login.
    ...app.ipLimit('social-token', app.config.rateLimit.loginMax)
  }, async (request, reply) => {
    const client = app.social.client(request.params.name)
    const oidc = client.config.kind === 'oidc'
    const { id_token: idToken, access_token: accessToken } = request.body
    if (oidc ? idToken === undefined : accessToken === undefined) {
      throw new FieldValidationError([{ field: oidc ? 'id_token' : 'access_token', message: `is required for ${client.config.name}` }])
    }
    const profile = await client.fromToken(oidc ? { id_token: idToken as string } : { access_token: accessToken as string })
    const { user, tokens } = await app.social.signIn(request, profile)
    return await reply.setAuthCookies(tokens).send({ user: publicUser(user), ...tokens })
  })
}

export default social
