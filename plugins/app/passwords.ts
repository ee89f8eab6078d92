import fp from 'fastify-plugin'
import { createPasswordHasher, type PasswordHasher } from '../../src/passwords/hash.js'

declare module 'fastify' {
  interface FastifyInstance { passwords: PasswordHasher }
}

export default fp(async (app) => {
  app.decorate('passwords', createPasswordHasher(app.config.argon2))
}, { name: 'passwords' })
