/*
 * pino, Fastify's logger, and what it loads (sonic-boom, thread-stream, the
 * redaction and serializers): some 20 CommonJS files, bundled at build like
 * typebox.ts. Fastify, inside the bundle, and the service (src/log.ts,
 * plugins/app/request-log.ts) use this one copy: the request line reads the
 * logger's own symbols.
 */
export { default } from 'pino'
export type { DestinationStream, Logger } from 'pino'
