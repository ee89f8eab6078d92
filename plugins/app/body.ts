import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import sjson from 'secure-json-parse'
import { FieldValidationError } from '../../src/errors.js'

/**
 * What was wrong with a JSON body, in words safe to send back: V8's message
 * without the excerpt of the input some of them quote (a body may hold a
 * password), and the prototype-pollution refusal spelled out.
 */
export function jsonProblem (err: unknown): string {
  const message = err instanceof Error ? err.message : ''
  if (/forbidden prototype property/i.test(message)) {
    return 'must not contain a "__proto__" member or a "constructor" member with a "prototype" (refused: prototype pollution)'
  }
  const reason = message.replace(/,\s*".*" is not valid JSON$/s, '').replace(/^\w/, (c) => c.toLowerCase())
  return reason === '' ? 'is not valid JSON' : `is not valid JSON: ${reason}`
}

// Bodies are JSON or nothing. Fastify also parses text/plain by default; drop it
// so that any other media type is a 415 (UNSUPPORTED_MEDIA_TYPE), and a form
// POSTed cross-site by a browser never reaches a handler.
//
// JSON is parsed here rather than by Fastify's own parser (the same
// secure-json-parse, same refusals) because that one drops the reason: every
// VALIDATION_ERROR carries `details`, and for an unparseable body that is one
// entry naming the body and what was wrong with it.
export default fp(async (app) => {
  app.removeContentTypeParser('text/plain')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const text = body as string // parseAs: 'string'
    if (/^\s*$/.test(text)) {
      done(new FieldValidationError([{ field: 'body', message: 'is empty, but Content-Type says application/json (send a JSON object, or no Content-Type)' }]))
      return
    }
    let parsed: unknown
    try {
      parsed = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
    } catch (err) {
      done(new FieldValidationError([{ field: 'body', message: jsonProblem(err) }]))
      return
    }
    done(null, parsed)
  })
}, { name: 'body' })
