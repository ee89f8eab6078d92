/*
 * Fastify itself, for src/app.ts (every other file imports only its types):
 * with semver (for plugins' version checks), avvio, find-my-way, ret and
 * light-my-request, some 140 CommonJS modules, 127–145 → 74–78 ms to load
 * bundled. Its dependencies that the service also imports (pino,
 * @fastify/error, the schema compilers, secure-json-parse) stay outside the
 * bundle, so there is one of each. See typebox.ts.
 */
export { default, LogController } from 'fastify'
