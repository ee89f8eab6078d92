import cors, { type FastifyCorsOptions } from '@fastify/cors'
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { FieldValidationError } from '../../src/errors.js'

// Credentialed CORS for the origins in CORS_ORIGINS only (none by default, so a
// browser page on any other origin can neither read an answer nor send a JSON
// POST, whose preflight fails). Listed origins are echoed back, never `*`, as
// browsers require with credentials.
export const autoConfig = (app: FastifyInstance): FastifyCorsOptions => ({
  origin: app.config.corsOrigins.length > 0 ? app.config.corsOrigins : false,
  credentials: true,
  methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
  allowedHeaders: ['Content-Type', 'Authorization', 'X-CSRF-Token', 'X-Request-Id'],
  // X-CSRF-Token: a page on another host cannot read the API's csrf_token
  // cookie, so token responses also carry its value in this header.
  exposedHeaders: ['X-CSRF-Token', 'Retry-After', 'WWW-Authenticate', 'X-Request-Id'],
  maxAge: 600,
  // The package's own check answers a text/plain "Invalid Preflight Request";
  // preflightCheck below makes the same check in the contract's shape.
  strictPreflight: false
})

const PREFLIGHT_HEADERS = ['origin', 'access-control-request-method'] as const

/**
 * With CORS on, @fastify/cors answers every OPTIONS request from its onRequest
 * hook as a preflight (204). One without Origin or Access-Control-Request-Method
 * is no preflight: a VALIDATION_ERROR naming what is missing, as the package's
 * strictPreflight would refuse it (400), but through the error handler.
 */
const preflightCheck: onRequestHookHandler = (request, _reply, done) => {
  // A route may turn CORS off (`config: { cors: false }`); the package then lets its OPTIONS through.
  if (request.method !== 'OPTIONS' || (request.routeOptions.config as { cors?: unknown }).cors === false) {
    done()
    return
  }
  const missing = PREFLIGHT_HEADERS.filter((name) => request.headers[name] === undefined || request.headers[name] === '')
  done(missing.length === 0 ? undefined : new FieldValidationError(missing.map((field) => ({ field, message: 'is required in a CORS preflight request' }))))
}

// The dependencies are registered first by src/app.ts: the preflight answer,
// sent from the package's hook, carries X-Request-Id and the security headers,
// and its OPTIONS * route gets the contract's error handler.
//
// Without CORS_ORIGINS (the default) the package would do nothing but run its
// onRequest hook on every request (work on the hot path for nothing) and keep
// its `OPTIONS *` route, which then calls
// the 404 handler. Only that route is kept, the same way: an OPTIONS request
// still has its body read and refused as any route's (415, 400, 413), else 404.
export default fp(async (app, opts: FastifyCorsOptions) => {
  if (opts.origin === false) {
    app.options('*', { schema: { hide: true } }, (_request, reply) => { reply.callNotFound() })
    return
  }
  app.addHook('onRequest', preflightCheck)
  await app.register(cors, opts)
}, { name: 'cors', dependencies: ['errors', 'request-log', 'helmet'] })
