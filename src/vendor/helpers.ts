/*
 * The small packages the service calls itself, bundled at build like
 * typebox.ts (some 20 ms of a start when Node's loader resolved, read and
 * compiled each): @fastify/error (the contract's error classes),
 * close-with-grace (the shutdown, src/server.ts), secure-json-parse (the body
 * parser) and helmet (the security headers, computed once). Not
 * @fastify/autoload: it imports the plugin and route files with import(),
 * which a file run from V8's code cache cannot do (src/code-cache.ts).
 */
export { default as createError } from '@fastify/error'
export { default as closeWithGrace } from 'close-with-grace'
export { default as sjson } from 'secure-json-parse'
export { default as helmet, type HelmetOptions } from 'helmet'
