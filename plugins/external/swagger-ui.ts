import { swaggerUi, type FastifySwaggerUiOptions } from '../../src/vendor/swagger.js'

// A browsable API reference at GET /docs, drawn from the same OpenAPI document
// as GET /openapi.json (the routes' TypeBox schemas). Its page loads only its
// own scripts and styles, so the service's CSP (self only) holds.
export const autoConfig: FastifySwaggerUiOptions = {
  routePrefix: '/docs',
  uiConfig: { docExpansion: 'list', deepLinking: true },
  staticCSP: false,
  logLevel: 'warn'
}

export default swaggerUi
