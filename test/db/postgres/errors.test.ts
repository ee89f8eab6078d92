import { DrizzleQueryError } from 'drizzle-orm'
import t from 'tap'
import { domainError } from '../../../src/db/postgres/errors.js'
import { StorageUnavailableError } from '../../../src/errors.js'

const pgError = (code: string | undefined, message = 'failed'): Error => Object.assign(new Error(message), code === undefined ? {} : { code })
/** As drizzle wraps a driver's error: the query and its bound values in the message. */
const wrapped = (cause: Error): DrizzleQueryError => new DrizzleQueryError('select * from users where email = $1', ['who@example.com'], cause)

t.test('a server out of reach or unable to serve right now is StorageUnavailableError, the driver\'s error as its cause', async (t) => {
  const cases = [
    pgError('08006'), pgError('08001'), pgError('57P01'), pgError('57P02'), pgError('57P03'), pgError('53300'), pgError('53100'),
    pgError('40001'), pgError('40P01'), pgError('55P03'),
    pgError('ECONNREFUSED'), pgError('ECONNRESET'), pgError('ETIMEDOUT'), pgError('EPIPE'), pgError('EHOSTUNREACH'), pgError('ENETUNREACH'), pgError('ENOTFOUND'), pgError('EAI_AGAIN'),
    // node-postgres's own connection failures carry no code.
    pgError(undefined, 'Connection terminated unexpectedly'), pgError(undefined, 'Query read timeout'),
    pgError(undefined, 'timeout exceeded when trying to connect'), pgError(undefined, 'Client has encountered a connection error and is not queryable'),
    pgError(undefined, 'Cannot use a pool after calling end on the pool'), pgError(undefined, 'Client was closed and is not queryable')
  ]
  for (const driver of cases) {
    for (const thrown of [driver, wrapped(driver)]) {
      const err = domainError(thrown)
      t.ok(err instanceof StorageUnavailableError, `${String((driver as { code?: string }).code ?? driver.message)}${thrown === driver ? '' : ' (through drizzle)'}`)
      t.equal((err as Error).cause, driver, 'the driver\'s error, not drizzle\'s')
    }
  }
})

t.test('anything else is the driver\'s own error, never drizzle\'s wrapper (whose message lists the bound values)', async (t) => {
  for (const driver of [pgError('23505'), pgError('42P01', 'relation "x" does not exist'), pgError('22P02'), new TypeError('a bug')]) {
    t.equal(domainError(driver), driver)
    t.equal(domainError(wrapped(driver)), driver)
  }
})
