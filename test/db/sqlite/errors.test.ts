import { join } from 'node:path'
import { DrizzleQueryError } from 'drizzle-orm'
import t from 'tap'
import { domainError, isUniqueViolation } from '../../../src/db/sqlite/errors.js'
import { openSqliteStore } from '../../../src/db/sqlite/store.js'
import { StorageUnavailableError } from '../../../src/errors.js'
import { storeToken, tempDir } from '../../helpers/app.js'

const sqliteError = (code: string, message = 'failed'): Error => Object.assign(new Error(message), { code })
/** As drizzle wraps a driver's error: the query and its bound values in the message. */
const wrapped = (cause: Error): DrizzleQueryError => new DrizzleQueryError('insert into users values (?)', ['$argon2id$secret'], cause)

t.test('what means "the storage cannot be used right now" is StorageUnavailableError, the driver\'s error as its cause', async (t) => {
  for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_CANTOPEN', 'SQLITE_NOMEM', 'SQLITE_PROTOCOL', 'SQLITE_CORRUPT', 'SQLITE_NOTADB']) {
    const driver = sqliteError(code)
    for (const thrown of [driver, wrapped(driver)]) {
      const err = domainError(thrown)
      t.ok(err instanceof StorageUnavailableError, `${code}${thrown === driver ? '' : ' (through drizzle)'}`)
      t.equal((err as Error).cause, driver, 'the driver\'s error, not drizzle\'s')
    }
  }
})

t.test('anything else is the driver\'s own error, never drizzle\'s wrapper (whose message lists the bound values)', async (t) => {
  for (const driver of [sqliteError('SQLITE_CONSTRAINT_UNIQUE'), sqliteError('SQLITE_ERROR', 'no such column'), sqliteError('SQLITE_MISUSE'), new TypeError('Converting circular structure to JSON')]) {
    t.equal(domainError(driver), driver)
    t.equal(domainError(wrapped(driver)), driver)
  }
})

t.test('a store used after it was closed (the service shutting down under requests still running) is StorageUnavailableError', async (t) => {
  const store = openSqliteStore({ path: join(tempDir(t), 'auth.db'), synchronous: 'full' })
  const u = await store.users.create({ id: 'u1', email: 'u1@example.com', passwordHash: 'x', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null })
  const first = { id: 't1', userId: u.id, familyId: 'f1', expiresAt: 2e9, createdAt: 1 }
  await storeToken(store, first)
  await store.close()
  await t.rejects(store.users.byEmail('u1@example.com'), StorageUnavailableError, 'a read: better-sqlite3\'s closed connection')
  await t.rejects(store.users.recordLogin('u1', new Date(), undefined), StorageUnavailableError, 'a write')
  await t.rejects(store.refreshTokens.rotate('t1', { id: 't2', userId: u.id, expiresAt: 2e9, createdAt: 2 }, 2), StorageUnavailableError, 'a rotation: the closed rotation writer')
})

t.test('a unique or primary key violation is recognised through drizzle\'s wrapper', async (t) => {
  t.ok(isUniqueViolation(wrapped(sqliteError('SQLITE_CONSTRAINT_UNIQUE'))))
  t.ok(isUniqueViolation(sqliteError('SQLITE_CONSTRAINT_PRIMARYKEY')))
  t.notOk(isUniqueViolation(sqliteError('SQLITE_CONSTRAINT_FOREIGNKEY')))
})
