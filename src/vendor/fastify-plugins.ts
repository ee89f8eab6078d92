/*
 * The Fastify plugins of plugins/external that are CommonJS and small
 * (@fastify/cookie with its cookie parser, @fastify/cors with its cache,
 * @fastify/under-pressure), bundled at build like typebox.ts: Node's loader
 * compiled them at every start.
 */
export { default as cookie } from '@fastify/cookie'
export type { CookieSerializeOptions } from '@fastify/cookie'
export { default as cors } from '@fastify/cors'
export type { FastifyCorsOptions } from '@fastify/cors'
export { default as underPressure } from '@fastify/under-pressure'
export type { FastifyUnderPressureOptions } from '@fastify/under-pressure'
