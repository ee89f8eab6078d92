import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { HTTPMethods } from 'fastify'
import { Type } from 'typebox'
import { errors } from '../../../src/schemas.js'

/**
 * For gateways' auth subrequests (nginx auth_request, Traefik forwardAuth,
 * Envoy ext_authz): any method, since nginx repeats the original request's.
 * Answered in onRequest, before any body is read: gateways drop or forward it
 * as they please, and its media type or length must not change the answer.
 *
 * The access token comes from the Bearer header or the access_token cookie,
 * read as every authenticated route reads it; the answer is app.forwardAuth
 * (plugins/app/authenticate.ts), shared with GET /account/token/verify.
 * No CSRF check: the answer is a read (200 or 401, the user's id and email in
 * headers only) and grants nothing; the request the gateway then forwards is
 * the one the upstream protects.
 */
const forwardAuth: FastifyPluginAsyncTypebox = async (app) => {
  const response = { 200: Type.Object({}), ...errors(401) }
  const answer = async () => ({})
  // Every method Fastify knows, answered alike; the OpenAPI document shows it
  // once, as GET (with its HEAD), not once per method (TRACE, QUERY, …).
  app.get('', {
    schema: {
      tags: ['gateway'],
      summary: 'Forward auth: is this request\'s access token valid? Any method.',
      description: 'For gateways\' auth subrequests (nginx auth_request, Traefik forwardAuth, Envoy ext_authz). ' +
        'Answers every method alike (nginx repeats the original request\'s method), at this path and any path below it; documented once, as GET. ' +
        '200 with X-Auth-User-Id and X-Auth-User-Email, or 401 with WWW-Authenticate.',
      response
    },
    onRequest: app.forwardAuth
  }, answer)
  const otherMethods = app.supportedMethods.filter((method) => method !== 'GET' && method !== 'HEAD') as HTTPMethods[]
  app.route({ method: otherMethods, url: '', schema: { response, hide: true }, onRequest: app.forwardAuth, handler: answer })
  // Envoy's ext_authz (HTTP service) appends the original path to its path_prefix.
  app.all('/*', { schema: { response, hide: true }, onRequest: app.forwardAuth }, answer)
}

export default forwardAuth
