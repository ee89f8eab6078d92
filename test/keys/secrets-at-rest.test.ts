import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { legacySecretFile } from '../../src/keys/legacy-secret.js'
import { createKeyring, LEGACY_SECRET_NAME, REFRESH_KEY_NAME } from '../../src/keys/keyring.js'
import { buildWithLogs, decodeJwt, forgeJwt, join, mypage, nowSeconds, refresh, sqlitePath, testConfig } from '../helpers/app.js'
import { storeDatabases } from '../helpers/store.js'

/*
 * JWT_KEYS_ENCRYPTION_KEY (docs/gateway.md, "How the keys are protected"):
 * keys and service secrets stored in clear before it was set are sealed at the
 * next start, and the generated secret of the data directory's jwt-secret file
 * moves, sealed, into the database, after which the file is never read again.
 */

const KEY = 'e'.repeat(40)

for (const [kind, opener] of storeDatabases) {
  t.test(`${kind}: rows stored in clear are sealed at the first start with JWT_KEYS_ENCRYPTION_KEY, and keep verifying`, async (t) => {
    const db = await opener(t)
    const options = { algorithm: 'ES256' as const, legacySecret: 'l'.repeat(40), accessLifetime: 300, refreshLifetime: 3600 }
    const clear = createKeyring({ ...options, store: await db.open() })
    await clear.init()
    const now = nowSeconds()
    const access = clear.sign({ token_type: 'access', jti: 'a', iat: now, exp: now + 300, sub: 'u', user_id: 'u' })
    const refreshToken = clear.signRefresh({ token_type: 'refresh', jti: 'r', iat: now, exp: now + 300, sub: 'u', user_id: 'u' })
    const store = await db.open()
    t.notOk((await store.signingKeys.list()).some((k) => k.secret.startsWith('sealed:v1:')), 'in clear without the key')
    t.notMatch(await store.serviceSecrets.get(REFRESH_KEY_NAME), /^sealed:v1:/)

    const sealed = createKeyring({ ...options, store: await db.open(), encryptionKey: KEY })
    const again = createKeyring({ ...options, store: await db.open(), encryptionKey: KEY })
    await Promise.all([sealed.init(), again.init()])
    const rows = await store.signingKeys.list()
    t.ok(rows.length > 0 && rows.every((k) => k.secret.startsWith('sealed:v1:')), 'every key row sealed at start')
    t.notOk(rows.some((k) => k.secret.includes('PRIVATE KEY')))
    t.match(await store.serviceSecrets.get(REFRESH_KEY_NAME), /^sealed:v1:/, 'the refresh-token key too')
    t.ok(await sealed.verify(access), 'tokens signed before still verify')
    t.ok(await again.verify(refreshToken, { use: 'refresh' }))
    await t.rejects(createKeyring({ ...options, store: await db.open() }).init(), /encrypted: set JWT_KEYS_ENCRYPTION_KEY/, 'now the key is needed')
  })
}

t.test('the jwt-secret file moves into the database, sealed, and is no longer read', async (t) => {
  const base = testConfig(t)
  const file = legacySecretFile(base)
  const first = await buildWithLogs(t, {}, base)
  t.ok(existsSync(file), 'without the encryption key: the file, as before')
  const secret = readFileSync(file, 'utf8').trim()
  const s = await join(first.app)
  // A token of the release before kids (no kid, signed with that secret).
  const { payload } = decodeJwt(s.access)
  const kidless = forgeJwt({ alg: 'HS256', typ: 'JWT' }, payload, secret)
  t.equal((await mypage(first.app, kidless)).statusCode, 200)
  await first.app.close()

  const env = { JWT_KEYS_ENCRYPTION_KEY: KEY, LOG_LEVEL: 'info' }
  const config = testConfig(t, { ...env, DATABASE_URL: `file:${sqlitePath(base)}` })
  const second = await buildWithLogs(t, env, config)
  t.match(second.logs.join(''), /"event":"jwt_secret_file_unused"/, 'the operator is told the file may be deleted')
  const stored = await second.app.store.serviceSecrets.get(LEGACY_SECRET_NAME)
  t.match(stored, /^sealed:v1:/, 'the secret lives sealed in the database')
  t.notOk(stored?.includes(secret))
  t.equal((await mypage(second.app, kidless)).statusCode, 200, 'a token without kid still verifies')
  await second.app.close()

  // The file is gone (deleted as docs/gateway.md says), or holds something else: nothing changes.
  writeFileSync(file, 'x'.repeat(48))
  const third = await buildWithLogs(t, env, config)
  t.equal((await mypage(third.app, kidless)).statusCode, 200, 'the file is not read: its new content changes nothing')
  t.equal((await mypage(third.app, s.access)).statusCode, 200)
  t.equal((await refresh(third.app, s.refresh)).statusCode, 200)
  await third.app.close()
  rmSync(file)
  const fourth = await buildWithLogs(t, env, config)
  t.equal((await mypage(fourth.app, kidless)).statusCode, 200, 'nor its absence')
  t.notOk(existsSync(file), 'and it is not made again')
  t.notMatch(fourth.logs.join(''), /jwt_secret_file_unused/)
})

t.test('a first start with JWT_KEYS_ENCRYPTION_KEY writes no jwt-secret file', async (t) => {
  const config = testConfig(t, { JWT_KEYS_ENCRYPTION_KEY: KEY })
  const { app } = await buildWithLogs(t, {}, config)
  t.notOk(existsSync(legacySecretFile(config)))
  t.match(await app.store.serviceSecrets.get(LEGACY_SECRET_NAME), /^sealed:v1:/)
  const s = await join(app)
  t.equal((await mypage(app, s.access)).statusCode, 200)
})
