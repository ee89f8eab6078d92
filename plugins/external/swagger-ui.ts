import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import swaggerUi, { type FastifySwaggerUiOptions } from '@fastify/swagger-ui'

// A browsable API reference at GET /docs, drawn from the same OpenAPI document
// as GET /openapi.json (the routes' TypeBox schemas). Its page loads only its
// own scripts and styles, so the service's CSP (self only) holds.
//
// Its scripts, styles and logo are the package's own files, named here rather
// than found by the package next to its code: the build bundles the code
// (the package's README, "Bundling").
const assets = join(dirname(createRequire(import.meta.url).resolve('@fastify/swagger-ui/package.json')), 'static')

export const autoConfig = (): FastifySwaggerUiOptions => ({
  routePrefix: '/docs',
  baseDir: assets,
  logo: { type: 'image/svg+xml', content: readFileSync(join(assets, 'logo.svg')) },
  uiConfig: { docExpansion: 'list', deepLinking: true },
  staticCSP: false,
  logLevel: 'warn'
})

export default swaggerUi
