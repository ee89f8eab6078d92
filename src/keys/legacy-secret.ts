import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, type Config } from '../config.js'

/**
 * The HS256 secret of a service that signed before keys had ids: JWT_SECRET
 * when given, else one generated on the first start and kept in the data
 * directory as `jwt-secret` (mode 0600), so that a restart does not log
 * everybody out. The keyring makes it the first stored HS256 key, and verifies
 * tokens without a `kid` with it (src/keys/keyring.ts).
 *
 * The file is written here, where the keys are handled, not when the
 * configuration is read: reading the configuration changes nothing on disk.
 * Throws a ConfigError naming the variable when the file cannot be made or used.
 *
 * With JWT_KEYS_ENCRYPTION_KEY the keyring keeps this secret sealed in the
 * database instead (src/keys/keyring.ts): it reads the file once, if it
 * exists (`create: false`), and never again.
 */
export function legacySecret (config: Pick<Config, 'jwtSecret' | 'dataDir'>): string
export function legacySecret (config: Pick<Config, 'jwtSecret' | 'dataDir'>, options: { create: boolean }): string | undefined
export function legacySecret (config: Pick<Config, 'jwtSecret' | 'dataDir'>, { create = true } = {}): string | undefined {
  if (config.jwtSecret !== undefined) return config.jwtSecret
  const { dataDir } = config
  const file = legacySecretFile(config)
  if (!create && !existsSync(file)) return undefined
  try {
    mkdirSync(dataDir, { recursive: true })
  } catch (err) {
    throw new ConfigError('DATABASE_URL', `data directory ${dataDir} cannot be created: ${(err as Error).message}`)
  }
  try {
    // `wx`: never overwrite a secret another process wrote first.
    writeFileSync(file, randomBytes(48).toString('base64url'), { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError('JWT_SECRET', `is not set and ${file} cannot be written: ${(err as Error).message}`)
    }
  }
  try {
    chmodSync(file, 0o600)
    const secret = readFileSync(file, 'utf8').trim()
    if (Buffer.byteLength(secret) < 32) throw new Error('the file holds fewer than 32 bytes')
    return secret
  } catch (err) {
    throw new ConfigError('JWT_SECRET', `is not set and ${file} cannot be used: ${(err as Error).message}`)
  }
}

/** Where the generated secret is kept: `<data dir>/jwt-secret`. */
export function legacySecretFile (config: Pick<Config, 'dataDir'>): string {
  return join(config.dataDir, 'jwt-secret')
}
