import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'

// The OpenAPI document is generated from the routes' TypeBox schemas and served
// at GET /openapi.json (routes/openapi.json) — no hand-written API description.
export const autoConfig: FastifyDynamicSwaggerOptions = {
  openapi: {
    info: { title: 'auth-service', description: 'JWT authentication service. The contract, with every rule this reference cannot show, is docs/API.md in the repository.', version: '1.1.0' },
    // The areas of docs/API.md; every route names one in its schema's `tags`
    // (test/routes/openapi.json.test.ts checks), so /docs groups them.
    tags: [
      { name: 'tokens', description: 'Log in, refresh, verify and log out: the token pair and its cookies.' },
      { name: 'account', description: 'Join, the profile (mypage), password change.' },
      { name: 'lifecycle', description: 'Profile edits, email change and verification, password reset, account deletion.' },
      { name: 'passkeys', description: 'Passkeys (WebAuthn): register them, sign in without a password, list, rename and remove them.' },
      { name: 'mfa', description: 'The second factor: TOTP (an authenticator app) with recovery codes; its login step is under tokens.' },
      { name: 'social', description: 'Social login: sign in with Google, Kakao, Apple, GitHub, Naver or an OpenID Connect provider; link and unlink them.' },
      { name: 'gateway', description: 'For gateways and resource servers: forward auth, the GET token check, introspection, the JWKS.' },
      { name: 'operations', description: 'Liveness and readiness probes.' }
    ],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'access_token' }
      }
    }
  }
}

export default swagger
