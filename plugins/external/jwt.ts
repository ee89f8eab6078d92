import jwt, { type FastifyJWTOptions } from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'
import { legacySecret } from '../../src/keys/legacy-secret.js'

// Tokens are signed and verified by the keyring (src/keys/, plugins/app/keys.ts),
// not by this plugin: it stays for `request.user` and its types. Its own
// sign/verify are HS256-only with the legacy secret and used by nothing; a
// token naming any other algorithm (`none`, RS256 with the secret as a
// "public key", …) would fail them too.
export const autoConfig = (app: FastifyInstance): FastifyJWTOptions => ({
  secret: legacySecret(app.config),
  sign: { algorithm: 'HS256' },
  verify: {
    algorithms: ['HS256'],
    requiredClaims: ['exp', 'iat', 'jti', 'sub', 'token_type']
  }
})

export default jwt
