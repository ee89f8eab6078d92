/*
 * @fastify/swagger (with yaml), @fastify/swagger-ui and @fastify/static (with
 * glob and send), imported by the service from here only: the OpenAPI
 * document, GET /docs and the client page. Some 200 CommonJS modules, about
 * 100–140 ms of a start when Node's loader reads them one by one; `npm run
 * build` bundles them (scripts/bundle-vendor.mjs), @fastify/static once for
 * swagger-ui and the client page. swagger-ui serves its own files from its
 * package folder: the bundle keeps each module's `__dirname`.
 */
export { default as swagger } from '@fastify/swagger'
export type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'
export { default as swaggerUi } from '@fastify/swagger-ui'
export type { FastifySwaggerUiOptions } from '@fastify/swagger-ui'
export { default as fastifyStatic } from '@fastify/static'
