import fastifyStatic from '@fastify/static'
import fp from 'fastify-plugin'
import { publicDir } from '../../src/paths.js'

/**
 * The demo browser client at `GET /` (public/: index.html, app.js, social.js, style.css),
 * unless SERVE_CLIENT=false. Only the files present at start get a route
 * (no wildcard), so every other path stays the contract's 404 NOT_FOUND.
 */
export default fp(async (app) => {
  if (!app.config.serveClient) return
  await app.register(fastifyStatic, {
    root: publicDir,
    wildcard: false,
    index: 'index.html',
    // The page is tiny and changes with the service: always revalidate.
    cacheControl: true,
    maxAge: 0,
    serveDotFiles: false
  })
}, { name: 'client', dependencies: ['errors'] })
