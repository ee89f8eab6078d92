import cors, { type FastifyCorsOptions } from '@fastify/cors'
import type { FastifyInstance } from 'fastify'

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
  maxAge: 600
})

export default cors
