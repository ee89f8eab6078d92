import { randomUUID } from 'node:crypto'
import { copyFileSync, readFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { openSqliteStore } from '../../../src/db/sqlite/store.js'
import { StorageUnavailableError } from '../../../src/errors.js'
import type { NewRefreshToken, NewUser } from '../../../src/db/store.js'
import { storeToken, tempDir } from '../../helpers/app.js'

// SQLite's refresh rotations are written by a thread of their own
// (src/db/sqlite/rotations.ts) and group-committed: those asked for while a
// batch is being written share the next transaction (one fsync), each in a
// savepoint.

const NOW = Math.floor(Date.now() / 1000)
const user = (): NewUser => {
  const id = randomUUID()
  return { id, email: `u-${id}@example.com`, passwordHash: 'x', name: '', gender: null, dateOfBirth: null, phoneNumber: null, dateJoined: new Date(), lastLogin: null }
}
const token = (userId: string, familyId: string = randomUUID()): NewRefreshToken =>
  ({ id: randomUUID(), userId, familyId, expiresAt: NOW + 3600, createdAt: NOW })

async function setup (t: Test) {
  const path = join(tempDir(t), 'auth.db')
  const store = openSqliteStore({ path, synchronous: 'full' })
  t.teardown(() => store.close())
  return { store, path }
}

/**
 * Commits in the WAL file so far: frames whose header carries the database's
 * size after the commit (non-zero only on a transaction's last frame), up to
 * the first frame of an older generation (salts unlike the header's).
 */
function walCommits (path: string): number {
  const wal = readFileSync(`${path}-wal`)
  if (wal.length < 32) return 0
  const pageSize = wal.readUInt32BE(8)
  const salts = wal.subarray(16, 24)
  let commits = 0
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (!wal.subarray(at + 8, at + 16).equals(salts)) break
    if (wal.readUInt32BE(at + 4) !== 0) commits++
  }
  return commits
}

t.test('rotations asked for together all succeed in one commit, and are on disk once answered', async (t) => {
  const { store, path } = await setup(t)
  const u = await store.users.create(user())
  const chains = await Promise.all(Array.from({ length: 20 }, async () => {
    const first = token(u.id)
    await storeToken(store, first)
    return { first, next: token(u.id, first.familyId) }
  }))
  // The writer thread starts at the first rotation and commits once then (it
  // rewrites user_version to prove it may write the file): started before counting.
  const warmUp = token(u.id)
  await storeToken(store, warmUp)
  t.same(await store.refreshTokens.rotate(warmUp.id, token(u.id, warmUp.familyId), NOW + 1), { kind: 'rotated' }, 'the writer is started')
  const before = walCommits(path)
  const outcomes = await Promise.all(chains.map(async (c) => await store.refreshTokens.rotate(c.first.id, c.next, NOW + 1)))
  t.same(outcomes, chains.map(() => ({ kind: 'rotated' })))
  // With a transaction per rotation it would be 20.
  const commits = walCommits(path) - before
  t.ok(commits >= 1 && commits <= 2, `20 rotations in ${commits} commit(s)`)
  t.equal(commits, 1, 'one batch, one commit')
  // Another connection (another process would see the same) finds every answer committed.
  const other = new Database(path, { readonly: true })
  t.teardown(() => other.close())
  const row = other.prepare('SELECT revoked_at FROM refresh_tokens WHERE id = ?')
  for (const c of chains) {
    t.equal((row.get(c.first.id) as { revoked_at: number | null }).revoked_at, NOW + 1, 'presented token revoked')
    t.ok(row.get(c.next.id), 'successor stored')
  }
  // The count itself is right: one rotation alone is one commit more.
  t.same(await store.refreshTokens.rotate(chains[0]?.next.id ?? '', token(u.id, chains[0]?.first.familyId), NOW + 2), { kind: 'rotated' }, 'a lone rotation')
  t.equal(walCommits(path) - before, commits + 1, 'a lone rotation: one commit more')
})

t.test('one failing rotation in a batch fails alone, leaving its token untouched', async (t) => {
  const { store } = await setup(t)
  const u = await store.users.create(user())
  const good = token(u.id)
  const bad = token(u.id)
  await storeToken(store, good)
  await storeToken(store, bad)
  const [, ok, failed] = await Promise.allSettled([
    // Asked in one turn, the three go as one batch.
    store.refreshTokens.rotate(randomUUID(), token(u.id), NOW + 1),
    store.refreshTokens.rotate(good.id, token(u.id, good.familyId), NOW + 1),
    // Its successor's id is taken (by the good token): the primary key refuses it.
    store.refreshTokens.rotate(bad.id, { ...token(u.id, bad.familyId), id: good.id }, NOW + 1)
  ])
  t.same(ok, { status: 'fulfilled', value: { kind: 'rotated' } })
  t.equal(failed?.status, 'rejected')
  t.match((failed as PromiseRejectedResult).reason, { code: /^SQLITE_CONSTRAINT/ })
  t.equal((await store.refreshTokens.byId(good.id))?.revokedAt, NOW + 1)
  t.equal((await store.refreshTokens.byId(bad.id))?.revokedAt, null, 'the failed rotation revoked nothing')
})

t.test('in one batch, the same token rotates once; the rest are reuse and end the family', async (t) => {
  const { store } = await setup(t)
  const u = await store.users.create(user())
  const first = token(u.id)
  await storeToken(store, first)
  const nexts = Array.from({ length: 5 }, () => token(u.id, first.familyId))
  const outcomes = await Promise.all(nexts.map(async (n) => await store.refreshTokens.rotate(first.id, n, NOW + 1)))
  t.same(outcomes.map((o) => o.kind), ['rotated', 'reused', 'reused', 'reused', 'reused'], 'in order of asking')
  t.not((await store.refreshTokens.byId(nexts[0]?.id ?? ''))?.revokedAt, null, 'the successor is revoked with its family')
})

t.test('in one batch with a grace window, the same token rotates once; the rest see it and replay', async (t) => {
  const { store } = await setup(t)
  const u = await store.users.create(user())
  const first = token(u.id)
  await storeToken(store, first)
  const nexts = Array.from({ length: 5 }, () => token(u.id, first.familyId))
  const outcomes = await Promise.all(nexts.map(async (n, i) => await store.refreshTokens.rotate(first.id, n, NOW + 1, { interval: 10, sealed: `sealed-${i}` })))
  t.same(outcomes, [{ kind: 'rotated' }, ...Array.from({ length: 4 }, () => ({ kind: 'replayed', successorId: nexts[0]?.id, sealed: 'sealed-0' }))], 'in order of asking')
  t.equal((await store.refreshTokens.byId(nexts[0]?.id ?? ''))?.revokedAt, null, 'the successor stays live')
  for (const n of nexts.slice(1)) t.equal(await store.refreshTokens.byId(n.id), undefined, 'no second successor stored')
})

t.test('a rotation into a file removed or replaced under the store fails as storage, and writes nothing', async (t) => {
  const { store, path } = await setup(t)
  const u = await store.users.create(user())
  const a = token(u.id)
  await storeToken(store, a)
  renameSync(path, `${path}.moved`)
  copyFileSync(`${path}.moved`, path)
  const moved = await Promise.allSettled([store.refreshTokens.rotate(a.id, token(u.id), NOW + 1)])
  t.match(moved, [{ status: 'rejected', reason: { code: 'SERVICE_UNAVAILABLE', cause: { code: 'SQLITE_READONLY_DBMOVED' } } }])
  t.ok((moved[0] as PromiseRejectedResult).reason instanceof StorageUnavailableError, 'the domain\'s storage error, the driver\'s as its cause')
  t.equal((await store.refreshTokens.byId(a.id))?.revokedAt, null, 'the token is untouched')
})

t.test('closing the store first writes the rotations asked for; later ones fail', async (t) => {
  const { store, path } = await setup(t)
  const u = await store.users.create(user())
  const tokens = [token(u.id), token(u.id), token(u.id)]
  for (const x of tokens) await storeToken(store, x)
  const all = Promise.allSettled(tokens.map(async (x) => await store.refreshTokens.rotate(x.id, token(u.id), NOW + 1)))
  await store.close()
  const results = await all
  t.same(results, tokens.map(() => ({ status: 'fulfilled', value: { kind: 'rotated' } })))
  t.type(await store.refreshTokens.rotate(tokens[1]!.id, token(u.id), NOW + 1).catch((err: unknown) => err), StorageUnavailableError, 'a closed store rotates nothing: 503, the service shutting down')
  const other = new Database(path, { readonly: true })
  t.teardown(() => other.close())
  const revoked = other.prepare('SELECT revoked_at FROM refresh_tokens WHERE id = ?').pluck()
  t.same(tokens.map((x) => revoked.get(x.id)), [NOW + 1, NOW + 1, NOW + 1], 'what was answered is on disk')
})
