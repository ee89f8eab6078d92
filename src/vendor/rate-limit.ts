/* @fastify/rate-limit and its caches, bundled at build like fastify-jwt.ts. */
export { default } from '@fastify/rate-limit'
export type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
