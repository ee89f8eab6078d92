import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import t, { type Test } from 'tap'
import { openPool } from '../../../src/db/postgres/connection.js'
import { codeOf, domainError } from '../../../src/db/postgres/errors.js'
import { pgRotations } from '../../../src/db/postgres/rotations.js'
import { openPostgresStore } from '../../../src/db/postgres/store.js'
import type { NewRefreshToken, NewUser, RotateOutcome, RotationRequest, RotationSuccessor, Store } from '../../../src/db/store.js'
import { StorageUnavailableError } from '../../../src/errors.js'
import { storeToken } from '../../helpers/app.js'
import { testDatabase } from '../../helpers/postgres.js'

// PostgreSQL's refresh rotations are group-committed
// (src/db/postgres/rotations.ts): those asked for while a batch is being
// written go together as the next batch, one statement and one commit; what a
// batch did not rotate is decided alone. These tests drive the batcher on a
// real pool whose statements they count, and the store that uses it.

const NOW = Math.floor(Date.now() / 1000)
const user = (): NewUser => {
  const id = randomUUID()
  return { id, email: `u-${id}@example.com`, passwordHash: 'x', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null }
}
const SESSION = { method: 'password', userAgent: null, ip: null, accessExpiresAt: NOW + 300 }
const first = (userId: string): NewRefreshToken => ({ id: randomUUID(), userId, familyId: randomUUID(), expiresAt: NOW + 3600, createdAt: NOW, session: SESSION })
const successor = (userId: string, at = NOW + 10): RotationSuccessor => ({ id: randomUUID(), userId, expiresAt: at + 3600, createdAt: at, accessExpiresAt: at + 300 })

interface Setup {
  url: string
  store: Store
  pool: pg.Pool
  /** The names of the statements the pool was asked to run, in order. */
  statements: string[]
  sql: (text: string, values?: unknown[]) => Promise<Array<Record<string, unknown>>>
}

/** `pool`, made to note the name of every statement it is asked to run; `query` runs one unnoted. */
function record (pool: pg.Pool): { statements: string[], query: (...args: unknown[]) => Promise<pg.QueryResult> } {
  const statements: string[] = []
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<pg.QueryResult>
  Object.assign(pool, {
    query: async (config: { name?: string, text: string }) => {
      statements.push(config.name ?? config.text)
      return await query(config)
    }
  })
  return { statements, query }
}

/** A fresh database with the store's schema, and a pool of the test's own that records what it runs. */
async function setup (t: Test): Promise<Setup> {
  const url = await testDatabase(t)
  const store = await openPostgresStore({ url })
  t.teardown(() => store.close())
  // The store's own kind of pool (a connection dropped with the database at teardown is no crash).
  const pool = openPool({ url, max: 4, connectionTimeoutMillis: 5000, queryTimeoutMillis: 5000, onIdleError: undefined })
  t.teardown(async () => { await pool.end() })
  const { statements, query } = record(pool)
  const sql = async (text: string, values: unknown[] = []) => (await query(text, values)).rows as Array<Record<string, unknown>>
  return { url, store, pool, statements, sql }
}

/** Logins of one new user, each the first token of its family (with its session). */
async function logins (store: Store, n: number): Promise<NewRefreshToken[]> {
  const u = await store.users.create(user())
  const tokens = Array.from({ length: n }, () => first(u.id))
  for (const token of tokens) await storeToken(store, token)
  return tokens
}

const request = (token: NewRefreshToken, next = successor(token.userId), grace?: RotationRequest['grace']): RotationRequest =>
  ({ id: token.id, next, nowSeconds: NOW + 10, grace })

t.test('rotations asked in one turn are one statement: every token rotated, its successor in its family, its session touched', async (t) => {
  const { store, pool, statements, sql } = await setup(t)
  const decided: RotationRequest[] = []
  const rotations = pgRotations({ pool, decide: async (r) => { decided.push(r); return { kind: 'unknown' } } })
  const tokens = await logins(store, 20)
  const asked = tokens.map((token, i) => request(token, successor(token.userId), i % 2 === 0 ? { interval: 30, sealed: `sealed-${i}` } : undefined))
  statements.length = 0

  const outcomes = await Promise.all(asked.map(async (r) => await rotations.rotate(r)))
  t.same(outcomes, asked.map(() => ({ kind: 'rotated' })))
  t.same(statements, ['auth_rotate_batch'], '20 rotations, one statement (one commit)')
  t.same(decided, [], 'nothing left to decide')

  for (const [i, r] of asked.entries()) {
    const [presented] = await sql('SELECT revoked_at, revoke_reason, successor_id, successor_sealed, family_id FROM refresh_tokens WHERE id = $1', [r.id])
    t.same(presented, { revoked_at: String(NOW + 10), revoke_reason: 'rotated', successor_id: r.next.id, successor_sealed: i % 2 === 0 ? `sealed-${i}` : null, family_id: tokens[i]?.familyId })
    const [next] = await sql('SELECT user_id, family_id, expires_at, created_at, revoked_at FROM refresh_tokens WHERE id = $1', [r.next.id])
    t.same(next, { user_id: r.next.userId, family_id: tokens[i]?.familyId, expires_at: String(r.next.expiresAt), created_at: String(r.next.createdAt), revoked_at: null })
    const [session] = await sql('SELECT last_used_at, expires_at, access_expires_at FROM sessions WHERE id = $1', [tokens[i]?.familyId])
    t.same(session, { last_used_at: String(NOW + 10), expires_at: String(r.next.expiresAt), access_expires_at: String(r.next.accessExpiresAt) })
  }

  // A lone rotation is the single statement.
  statements.length = 0
  const [lone] = await logins(store, 1)
  t.same(await rotations.rotate(request(lone!)), { kind: 'rotated' })
  t.same(statements, ['auth_rotate_one'], 'a lone rotation: the single-token statement')
})

t.test('rotations asked while a batch is written go together as the next one', async (t) => {
  const { store, pool, statements } = await setup(t)
  const rotations = pgRotations({ pool, decide: async () => ({ kind: 'unknown' }) })
  const tokens = await logins(store, 11)
  statements.length = 0
  const lone = rotations.rotate(request(tokens[0]!))
  // The first has been sent: the next ten wait for its answer.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(statements, ['auth_rotate_one'])
  const rest = tokens.slice(1).map(async (token) => await rotations.rotate(request(token)))
  t.same(await Promise.all([lone, ...rest]), tokens.map(() => ({ kind: 'rotated' })))
  t.same(statements, ['auth_rotate_one', 'auth_rotate_batch'])
})

t.test('what a batch did not rotate is decided alone; a token asked twice waits for the next batch', async (t) => {
  const { store, pool, statements } = await setup(t)
  const decided: string[] = []
  const decide = async (r: RotationRequest): Promise<RotateOutcome> => {
    decided.push(r.id)
    return { kind: 'replayed', successorId: 'decided', sealed: r.grace?.sealed ?? '' }
  }
  const rotations = pgRotations({ pool, decide })
  const [a, b, c] = await logins(store, 3)
  await store.refreshTokens.revokeFamily(c!.userId, c!.familyId, NOW)
  statements.length = 0
  const outcomes = await Promise.all([
    rotations.rotate(request(a!)),
    rotations.rotate(request(b!)),
    rotations.rotate(request(a!, successor(a!.userId), { interval: 30, sealed: 'second' })),
    rotations.rotate({ ...request(b!), id: 'unknown-token' }),
    rotations.rotate(request(c!))
  ])
  t.same(outcomes, [
    { kind: 'rotated' },
    { kind: 'rotated' },
    { kind: 'replayed', successorId: 'decided', sealed: 'second' },
    { kind: 'replayed', successorId: 'decided', sealed: '' },
    { kind: 'replayed', successorId: 'decided', sealed: '' }
  ])
  t.same(statements.slice(0, 2), ['auth_rotate_batch', 'auth_rotate_one'], 'the second rotation of a token goes alone after the first batch')
  t.same(decided.sort(), [a!.id, c!.id, 'unknown-token'].sort(), 'decided: the replay, the unknown token, the revoked one')
})

t.test('a batch that fails (not for its connection) runs again one by one: only the faulty rotation fails', async (t) => {
  const { store, pool, statements, sql } = await setup(t)
  const rotations = pgRotations({ pool, decide: async () => ({ kind: 'unknown' }) })
  const [a, b, c] = await logins(store, 3)
  // Two successors with one id: the batch's INSERT violates the primary key.
  const clash = successor(a!.userId)
  statements.length = 0
  const outcomes = await Promise.allSettled([rotations.rotate(request(a!, clash)), rotations.rotate(request(b!, { ...clash, userId: b!.userId })), rotations.rotate(request(c!))])
  t.same(statements, ['auth_rotate_batch', 'auth_rotate_one', 'auth_rotate_one', 'auth_rotate_one'])
  const failed = outcomes.findIndex((o) => o.status === 'rejected')
  t.ok(failed === 0 || failed === 1, 'one of the two clashing rotations fails')
  t.equal(outcomes.filter((o) => o.status === 'rejected').length, 1, 'and only that one')
  t.equal(codeOf((outcomes[failed] as PromiseRejectedResult).reason), '23505', 'with its own error')
  t.same(outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value), [{ kind: 'rotated' }, { kind: 'rotated' }])
  const live = (await sql('SELECT id FROM refresh_tokens WHERE revoked_at IS NULL')).map((row) => row.id).sort()
  t.same(live, [clash.id, [a, b][failed]!.id, (await sql('SELECT successor_id FROM refresh_tokens WHERE id = $1', [c!.id]))[0]?.successor_id].sort(),
    'live: the one clashing successor stored, the token whose rotation failed (untouched), and c\'s successor')
})

t.test('a batch whose connection fails fails as a whole (503), nothing is decided; a rotation after close is a 503', async (t) => {
  // Nothing listens on port 1.
  const pool = openPool({ url: 'postgres://postgres@127.0.0.1:1/none', max: 2, connectionTimeoutMillis: 2000, queryTimeoutMillis: 2000, onIdleError: undefined })
  t.teardown(async () => { await pool.end() })
  const { statements } = record(pool)
  const decided: string[] = []
  const rotations = pgRotations({ pool, decide: async (r) => { decided.push(r.id); return { kind: 'unknown' } } })
  const token = (): NewRefreshToken => first('u')
  const outcomes = await Promise.allSettled([token(), token(), token()].map(async (tk) => await rotations.rotate(request(tk))))
  for (const o of outcomes) {
    t.equal(o.status, 'rejected')
    t.type(domainError((o as PromiseRejectedResult).reason), StorageUnavailableError, 'a connection-class error')
  }
  t.same(statements, ['auth_rotate_batch'], 'not tried again one by one')
  t.same(decided, [])
  await rotations.close()
  const late = await rotations.rotate(request(token())).catch((err: unknown) => err)
  t.type(domainError(late), StorageUnavailableError, 'after close: 503, the service shutting down')
})

t.test('close writes the rotations already asked for before it returns', async (t) => {
  const { store, pool, sql } = await setup(t)
  const rotations = pgRotations({ pool, decide: async () => ({ kind: 'unknown' }) })
  const tokens = await logins(store, 5)
  const asked = tokens.map(async (token) => await rotations.rotate(request(token)))
  await rotations.close()
  const revoked = await sql('SELECT count(*)::int AS n FROM refresh_tokens WHERE revoked_at IS NOT NULL')
  t.same(revoked, [{ n: 5 }], 'written when close returns')
  t.same(await Promise.all(asked), tokens.map(() => ({ kind: 'rotated' })))
})

t.test('two instances rotating the same tokens at once, in opposite orders: exactly one rotation of each token wins', async (t) => {
  const { url, store, sql } = await setup(t)
  const other = await openPostgresStore({ url })
  t.teardown(() => other.close())
  const tokens = await logins(store, 30)
  const [mine, theirs] = await Promise.all([
    Promise.all(tokens.map(async (token) => await store.refreshTokens.rotate(token.id, successor(token.userId), NOW + 10))),
    Promise.all([...tokens].reverse().map(async (token) => await other.refreshTokens.rotate(token.id, successor(token.userId), NOW + 10)))
  ])
  theirs.reverse()
  for (const [i, token] of tokens.entries()) {
    const kinds = [mine[i]?.kind, theirs[i]?.kind].sort()
    t.same(kinds, ['reused', 'rotated'], `${token.id}: one rotated, the other is reuse`)
  }
  // Reuse revoked each family: none keeps a live token.
  t.same(await sql('SELECT count(*)::int AS n FROM refresh_tokens WHERE revoked_at IS NULL'), [{ n: 0 }])
})
