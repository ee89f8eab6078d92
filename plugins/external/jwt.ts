import jwt, { type FastifyJWTOptions } from '@fastify/jwt'
import { ALGORITHMS } from '../../src/keys/algorithms.js'
import { REQUIRED_CLAIMS } from '../../src/keys/keyring.js'
import { keyOfToken, presentedAccessToken } from '../app/authenticate.js'

// @fastify/jwt finds and verifies the requests' access tokens and sets
// request.user (plugins/app/authenticate.ts remembers what it verified, turns
// its errors into the contract's and puts the live user there). It only
// verifies (`public`): the keyring signs every token.
export const autoConfig: FastifyJWTOptions = {
  secret: { public: keyOfToken },
  // The secret callback needs the header (kid, alg, crit), not only the claims.
  decode: { complete: true },
  verify: {
    // The contract's rules (a Bearer header, else the access_token cookie),
    // stricter than @fastify/jwt's own reading of the header.
    extractToken: (request) => presentedAccessToken(request).token,
    // Every algorithm a key may have; keyOfToken holds each token to its own key's
    // (and refuses its kid once the key is gone: its verifier is never reached).
    algorithms: [...ALGORITHMS],
    requiredClaims: REQUIRED_CLAIMS
  }
}

export default jwt
