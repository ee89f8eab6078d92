// The SQLite work of refresh rotations alone, on one thread: the statements of
// the rotation writer (src/db/sqlite-rotation-worker.mjs) on a table shaped as
// refresh_tokens (src/db/schema.ts), 50 users' chains over 20 000 older rows,
// rotated in batches (one transaction per batch, a savepoint per rotation).
// Prints wall and CPU time per rotation.
//
//   node bench/rotation-sql.mjs [--batch 23] [--sealed 570] [--synchronous FULL|NORMAL]
//                               [--no-savepoints] [--without-rowid] [--checkpoint PAGES] [--rotations 60000]
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '23' },
    sealed: { type: 'string', default: '570' },
    synchronous: { type: 'string', default: 'FULL' },
    'no-savepoints': { type: 'boolean', default: false },
    'without-rowid': { type: 'boolean', default: false },
    checkpoint: { type: 'string' },
    rotations: { type: 'string', default: '60000' }
  }
})
const whole = (name, min) => {
  const n = Number(values[name])
  if (!Number.isInteger(n) || n < min) { process.stderr.write(`--${name} must be an integer ≥ ${min}, got "${values[name]}"\n`); process.exit(2) }
  return n
}
const batchSize = whole('batch', 1)
const sealedLength = whole('sealed', 0)
const rotations = whole('rotations', 1)
const checkpoint = values.checkpoint === undefined ? undefined : whole('checkpoint', 0)
if (!['FULL', 'NORMAL'].includes(values.synchronous)) { process.stderr.write(`--synchronous must be FULL or NORMAL, got "${values.synchronous}"\n`); process.exit(2) }

const dir = mkdtempSync(join(tmpdir(), 'rotation-sql-'))
process.on('exit', () => { rmSync(dir, { recursive: true, force: true }) })
const db = new Database(join(dir, 'auth.db'))
db.pragma('journal_mode = WAL')
db.pragma(`synchronous = ${values.synchronous}`)
db.pragma('foreign_keys = ON')
if (checkpoint !== undefined) db.pragma(`wal_autocheckpoint = ${checkpoint}`)
db.exec(`CREATE TABLE users (id text PRIMARY KEY);
CREATE TABLE refresh_tokens (id text PRIMARY KEY, user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE, family_id text NOT NULL,
  expires_at integer NOT NULL, revoked_at integer, revoke_reason text, created_at integer NOT NULL, successor_id text, successor_sealed text)${values['without-rowid'] ? ' WITHOUT ROWID' : ''};
CREATE INDEX refresh_tokens_user_family_idx ON refresh_tokens(user_id, family_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens(expires_at);`)

const key = () => createHash('sha256').update(randomUUID()).digest('base64url')
const users = Array.from({ length: 50 }, () => randomUUID())
const insert = db.prepare('INSERT INTO refresh_tokens (id, user_id, family_id, expires_at, created_at) VALUES (@id, @userId, @familyId, @expiresAt, @createdAt)')
const markRotated = db.prepare("UPDATE refresh_tokens SET revoked_at = @now, revoke_reason = 'rotated', successor_id = @successorId, successor_sealed = @sealed " +
  'WHERE id = @id AND user_id = @userId AND revoked_at IS NULL RETURNING family_id').pluck()
const chains = users.map((u) => ({ user: u, family: randomUUID(), current: key() }))
db.transaction(() => {
  for (const u of users) db.prepare('INSERT INTO users VALUES (?)').run(u)
  for (let i = 0; i < 20_000; i++) insert.run({ id: key(), userId: users[i % 50], familyId: randomUUID(), expiresAt: 2e9 + i, createdAt: 1e9 })
  for (const c of chains) insert.run({ id: c.current, userId: c.user, familyId: c.family, expiresAt: 2e9, createdAt: 1e9 })
})()

const sealed = sealedLength === 0 ? null : randomBytes(sealedLength).toString('base64url').slice(0, sealedLength)
const rotateOne = ({ chain, next, now }) => {
  const familyId = markRotated.get({ id: chain.current, userId: chain.user, now, successorId: next, sealed })
  insert.run({ id: next, userId: chain.user, familyId, expiresAt: 2e9 + now, createdAt: now })
  chain.current = next
}
const rotate = values['no-savepoints'] ? rotateOne : db.transaction(rotateOne)
const batch = db.transaction((requests) => { for (const r of requests) rotate(r) })

let next = 0
const wall = performance.now()
const cpu = process.cpuUsage()
for (let done = 0; done < rotations; done += batchSize) {
  const requests = []
  for (let i = 0; i < batchSize; i++) requests.push({ chain: chains[next++ % chains.length], next: key(), now: done })
  batch.immediate(requests)
}
const used = process.cpuUsage(cpu)
const ms = performance.now() - wall
process.stdout.write(`batch ${batchSize}, sealed ${sealedLength}, ${values.synchronous}${values['no-savepoints'] ? ', no savepoints' : ''}${values['without-rowid'] ? ', WITHOUT ROWID' : ''}${checkpoint === undefined ? '' : `, wal_autocheckpoint ${checkpoint}`}: ` +
  `${(1000 * ms / rotations).toFixed(1)} µs wall, ${((used.user + used.system) / rotations).toFixed(1)} µs CPU per rotation (system ${(used.system / rotations).toFixed(1)})\n`)
