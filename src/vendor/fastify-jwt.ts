/*
 * @fastify/jwt and fast-jwt (with the ASN.1 and big-number libraries fast-jwt
 * loads for ECDSA), imported by the service from here and fast-jwt.ts only:
 * about 60 CommonJS modules that Node's loader found and read one by one.
 * `npm run build` bundles them (scripts/bundle-vendor.mjs), fast-jwt once for
 * both. See typebox.ts.
 */
export { default } from '@fastify/jwt'
export type { FastifyJWTOptions } from '@fastify/jwt'
