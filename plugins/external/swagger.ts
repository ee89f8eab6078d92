import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger'

// The OpenAPI document is generated from the routes' TypeBox schemas and served
// at GET /openapi.json (routes/openapi.json) — no hand-written API description.
export const autoConfig: FastifyDynamicSwaggerOptions = {
  openapi: {
    info: { title: 'auth-service', description: 'JWT authentication service. The contract, with every rule this reference cannot show, is docs/API.md in the repository.', version: '1.1.0' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'access_token' }
      }
    }
  }
}

export default swagger
