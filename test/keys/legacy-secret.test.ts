import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { legacySecret } from '../../src/keys/legacy-secret.js'
import { tempDir } from '../helpers/app.js'

/*
 * The HS256 secret the keys start from: JWT_SECRET, or one generated in the
 * data directory on the first start (loadConfig itself writes nothing).
 */

const configIn = (dir: string, env: NodeJS.ProcessEnv = {}) => loadConfig({ DATABASE_URL: join(dir, 'a.db'), ...env })

t.test('without JWT_SECRET one is generated once, kept with mode 0600', async (t) => {
  const dir = join(tempDir(t), 'data')
  const first = legacySecret(configIn(dir))
  t.ok(Buffer.byteLength(first) >= 32, 'a generated secret of at least 32 bytes')
  const file = join(dir, 'jwt-secret')
  t.equal(statSync(file).mode & 0o777, 0o600)
  t.equal(readFileSync(file, 'utf8'), first)
  t.equal(legacySecret(configIn(dir)), first, 'the same secret on the next start')
  t.not(legacySecret(configIn(tempDir(t))), first, 'another data dir gets its own')
})

t.test('a given JWT_SECRET is used as is and nothing is written', async (t) => {
  const dir = join(tempDir(t), 'data')
  const secret = 's'.repeat(40)
  t.equal(legacySecret(configIn(dir, { JWT_SECRET: secret })), secret)
  t.notOk(existsSync(dir))
})

t.test('a data directory that cannot hold the secret is a ConfigError naming the variable', async (t) => {
  const base = tempDir(t)
  writeFileSync(join(base, 'a-file'), 'not a directory')
  t.throws(() => legacySecret(configIn(join(base, 'a-file', 'data'))), { name: 'ConfigError', variable: 'DATABASE_URL', message: /^DATABASE_URL data directory .* cannot be created: ENOTDIR/ })
  const short = join(base, 'short')
  legacySecret(configIn(short))
  writeFileSync(join(short, 'jwt-secret'), 'too short')
  try {
    legacySecret(configIn(short))
    t.fail('expected a ConfigError')
  } catch (err) {
    t.ok(err instanceof ConfigError)
    t.match((err as ConfigError).message, /^JWT_SECRET is not set and .*jwt-secret cannot be used: the file holds fewer than 32 bytes$/)
  }
})
