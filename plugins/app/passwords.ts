import fp from 'fastify-plugin'
import { createPasswordHasher, defaultHashConcurrency, type PasswordHasher } from '../../src/passwords/hash.js'

declare module 'fastify' {
  interface FastifyInstance { passwords: PasswordHasher }
}

export default fp(async (app) => {
  // PRESSURE_MAX_HASH_QUEUE: logins beyond it are refused with a 503 at once
  // (0: no limit), so a storm cannot pile up without bound.
  const maxWaiting = app.config.pressure.maxHashQueue === 0 ? Infinity : app.config.pressure.maxHashQueue
  app.decorate('passwords', createPasswordHasher(app.config.argon2, defaultHashConcurrency(), maxWaiting))
}, { name: 'passwords' })
