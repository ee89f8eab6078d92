import helmet, { type FastifyHelmetOptions } from '@fastify/helmet'

// Security headers on every response. The client page at `/` loads only its own
// script and stylesheet, so the default CSP (self only) fits it.
export const autoConfig: FastifyHelmetOptions = {
  global: true,
  // An auth API is never framed, and its answers never cached.
  frameguard: { action: 'deny' }
}

export default helmet
