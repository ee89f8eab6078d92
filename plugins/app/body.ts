import fp from 'fastify-plugin'

// Bodies are JSON or nothing. Fastify also parses text/plain by default; drop it
// so that any other media type is a 415 (UNSUPPORTED_MEDIA_TYPE), and a form
// POSTed cross-site by a browser never reaches a handler.
export default fp(async (app) => {
  app.removeContentTypeParser('text/plain')
}, { name: 'body' })
