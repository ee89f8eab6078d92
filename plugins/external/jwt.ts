import jwt, { type FastifyJWTOptions } from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'

// HS256 only, in both directions: a token naming any other algorithm (`none`,
// RS256 with the secret as a "public key", …) fails verification.
export const autoConfig = (app: FastifyInstance): FastifyJWTOptions => ({
  secret: app.config.jwtSecret,
  sign: { algorithm: 'HS256' },
  verify: {
    algorithms: ['HS256'],
    requiredClaims: ['exp', 'iat', 'jti', 'sub', 'token_type']
  }
})

export default jwt
