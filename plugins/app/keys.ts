import { existsSync } from 'node:fs'
import fp from 'fastify-plugin'
import { legacySecretFile } from '../../src/keys/legacy-secret.js'
import { KEYS_RELOAD_INTERVAL, keyringFromConfig, type Keyring } from '../../src/keys/keyring.js'

declare module 'fastify' {
  interface FastifyInstance { keys: Keyring }
}

/**
 * The signing keys (src/keys/): a key for JWT_ALGORITHM is made sure of at
 * start, and the table re-read every KEYS_RELOAD_INTERVAL seconds so that a
 * rotation made by `keys rotate` or another instance is picked up without a restart.
 */
export default fp(async (app) => {
  const keys = keyringFromConfig(app.config, app.store)
  await keys.init()
  app.decorate('keys', keys)
  const file = legacySecretFile(app.config)
  if (keys.legacySecretSource === 'database' && existsSync(file)) {
    app.log.info({ event: 'jwt_secret_file_unused', file }, 'the generated secret is kept sealed in the database: the jwt-secret file is no longer read and may be deleted')
  }
  const timer = setInterval(() => {
    keys.reload().catch((err: unknown) => { app.log.warn({ err }, 'reading the signing keys failed; the previous keys stay in use') })
  }, KEYS_RELOAD_INTERVAL * 1000).unref()
  app.addHook('onClose', async () => { clearInterval(timer) })
}, { name: 'keys', dependencies: ['store'] })
