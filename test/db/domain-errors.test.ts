import t from 'tap'
import { withDomainErrors } from '../../src/db/domain-errors.js'
import type { Store } from '../../src/db/store.js'

/*
 * Every method of a store passes its failures through the store's mapping
 * (src/db/sqlite/errors.ts, src/db/postgres/errors.ts): no method can forget.
 */

class DriverError extends Error {}
class DomainError extends Error {}
const toDomain = (err: unknown): unknown => err instanceof DriverError ? new DomainError(err.message, { cause: err }) : err

function fakeStore (): Store {
  return {
    users: {
      byIdNow: (id: string) => { if (id === 'broken') throw new DriverError('read failed'); return undefined },
      byId: async (id: string) => { if (id === 'broken') throw new DriverError('read failed'); return undefined }
    },
    refreshTokens: { purge: async () => ({ expired: 1, revoked: 0, legacyTokens: 0 }) },
    ping: async () => { throw new DriverError('no answer') },
    close: async () => {}
  } as unknown as Store
}

t.test('an asynchronous method rejects with the domain\'s error, its result passes unchanged', async (t) => {
  const store = withDomainErrors(fakeStore(), toDomain)
  const failed = await store.users.byId('broken').catch((err: unknown) => err)
  t.ok(failed instanceof DomainError, 'byId')
  t.ok((failed as Error).cause instanceof DriverError, 'with the driver\'s error as its cause')
  t.ok(await store.ping().catch((err: unknown) => err) instanceof DomainError, 'ping')
  t.same(await store.refreshTokens.purge(1), { expired: 1, revoked: 0, legacyTokens: 0 })
  await t.resolves(store.close())
})

t.test('a synchronous method (byIdNow) stays synchronous and throws the domain\'s error', async (t) => {
  const store = withDomainErrors(fakeStore(), toDomain)
  t.equal(store.users.byIdNow?.('a'), undefined, 'a value, not a promise')
  let thrown: unknown
  try { store.users.byIdNow?.('broken') } catch (err) { thrown = err }
  t.ok(thrown instanceof DomainError)
})

t.test('an error the mapping leaves alone passes as it is', async (t) => {
  const bug = new TypeError('a bug')
  const store = withDomainErrors({ ...fakeStore(), ping: async () => { throw bug } }, toDomain)
  t.equal(await store.ping().catch((err: unknown) => err), bug)
})
