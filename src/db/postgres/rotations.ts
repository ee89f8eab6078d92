import type pg from 'pg'
import { StorageUnavailableError } from '../../errors.js'
import type { RotateOutcome, RotationRequest } from '../store.js'
import { isConnectionError, unwrap } from './errors.js'

/*
 * PostgreSQL refresh rotations, group-committed.
 *
 * A rotation is the one write on a hot path, and on PostgreSQL each one was a
 * statement, a commit and a round trip of its own: the socket writes on both
 * ends and the server's per-statement work were most of a refresh's cost
 * (docs/benchmarks.md). Here, as with SQLite's rotation writer
 * (src/db/sqlite/rotations.ts): while one batch is being written, the
 * rotations asked for meanwhile wait, and go together as the next batch — one
 * statement (ROTATE_BATCH), one commit. A lone rotation waits for the end of
 * its turn of the event loop (setImmediate), and goes with the others of that
 * turn.
 *
 * The batch statement is the single rotation's conditional UPDATE over many
 * rows: each row is matched only while `revoked_at IS NULL`, and a concurrent
 * rotation of the same token (another batch, another instance) waits for the
 * row lock and re-checks it on the committed row (READ COMMITTED's
 * re-evaluation), so at most one of them wins, as before. A token appears at
 * most once in a batch: a second rotation of it waits for the next batch,
 * where it finds the first one's result. A rotation the batch did not match
 * (revoked, unknown, foreign: the grace window's replay, reuse, or an invalid
 * token) is decided alone by `single`, in its REPEATABLE READ transaction.
 *
 * A batch is one transaction: if it fails for anything but a lost connection
 * (a deadlock between two instances' batches, a successor's user deleted
 * meanwhile), its rotations run again one by one, so that one failing fails
 * alone. A rotation is answered only once its batch has committed.
 */

/**
 * The rotation of one live token in one statement, outside any transaction
 * block: the conditional UPDATE of src/tokens/rotation.ts's isRotatable, the
 * family's session touched, and the successor inserted into the rotated
 * token's family. $1 id, $2 user, $3 now, $4 successor id, $5 sealed successor
 * (grace), $6 and $7 the successor's expiry and creation, $8 the successor
 * access token's expiry (the session's access_expires_at).
 */
const ROTATE_LIVE = `WITH rotated AS (
  UPDATE refresh_tokens SET revoked_at = $3, revoke_reason = 'rotated', successor_id = $4, successor_sealed = $5
  WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
  RETURNING family_id
), touched AS (
  -- The family's session, if it has one (src/db/postgres/sessions.ts), by its
  -- primary key in the same statement: used now, alive as long as the
  -- successor, its access tokens until the latest one's expiry ($8).
  UPDATE sessions SET last_used_at = $3, expires_at = $6, access_expires_at = GREATEST(access_expires_at, $8)
  WHERE id = (SELECT family_id FROM rotated)
)
INSERT INTO refresh_tokens (id, user_id, family_id, expires_at, created_at)
SELECT $4, $2, family_id, $6, $7 FROM rotated`

/**
 * Rotates every live token of the batch ($1 ids, $2 their users, $3 now, $4
 * successor ids, $5 sealed successors, $6–$8 as ROTATE_LIVE's $6–$8, one
 * array element per rotation), touches their sessions and inserts the
 * successors; returns the ids it rotated.
 */
const ROTATE_BATCH = `WITH asked AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])
    AS a(id, user_id, now, successor_id, sealed, expires_at, created_at, access_expires_at)
), rotated AS (
  UPDATE refresh_tokens t SET revoked_at = a.now, revoke_reason = 'rotated', successor_id = a.successor_id, successor_sealed = a.sealed
  FROM asked a WHERE t.id = a.id AND t.user_id = a.user_id AND t.revoked_at IS NULL
  RETURNING t.id, t.user_id, t.family_id, a.now, a.successor_id, a.expires_at, a.created_at, a.access_expires_at
), touched AS (
  UPDATE sessions s SET last_used_at = r.now, expires_at = r.expires_at, access_expires_at = GREATEST(s.access_expires_at, r.access_expires_at)
  FROM rotated r WHERE s.id = r.family_id
), inserted AS (
  INSERT INTO refresh_tokens (id, user_id, family_id, expires_at, created_at)
  SELECT successor_id, user_id, family_id, expires_at, created_at FROM rotated
)
SELECT id FROM rotated`

/** Rotations in one statement at most: the statement's arrays stay small, a burst goes as several batches. */
const MAX_BATCH = 256

interface Pending extends RotationRequest {
  resolve: (outcome: RotateOutcome) => void
  reject: (err: unknown) => void
}

export interface PgRotationsOptions {
  pool: pg.Pool
  /** A rotation that no statement here matched, decided in a REPEATABLE READ transaction. */
  decide: (request: RotationRequest) => Promise<RotateOutcome>
}

const ROTATED: RotateOutcome = { kind: 'rotated' }

export function pgRotations ({ pool, decide }: PgRotationsOptions) {
  let waiting: Pending[] = []
  let inFlight = false
  let closing = false
  /** Told when the batch being written has been answered and none follows. */
  let onIdle: (() => void) | undefined

  /** Whether ROTATE_LIVE rotated the one token of `r`. */
  async function one ({ id, next, nowSeconds, grace }: RotationRequest): Promise<boolean> {
    const { rowCount } = await pool.query({ name: 'auth_rotate_one', text: ROTATE_LIVE, values: [id, next.userId, nowSeconds, next.id, grace?.sealed ?? null, next.expiresAt, next.createdAt, next.accessExpiresAt ?? 0] })
    return rowCount === 1
  }

  /** The ids that ROTATE_BATCH rotated. */
  async function many (batch: RotationRequest[]): Promise<Set<string>> {
    const { rows } = await pool.query<{ id: string }>({
      name: 'auth_rotate_batch',
      text: ROTATE_BATCH,
      values: [
        batch.map((r) => r.id), batch.map((r) => r.next.userId), batch.map((r) => r.nowSeconds), batch.map((r) => r.next.id),
        batch.map((r) => r.grace?.sealed ?? null), batch.map((r) => r.next.expiresAt), batch.map((r) => r.next.createdAt),
        batch.map((r) => r.next.accessExpiresAt ?? 0)
      ]
    })
    return new Set(rows.map((row) => row.id))
  }

  const settle = (r: Pending, outcome: Promise<RotateOutcome>): void => { outcome.then(r.resolve, r.reject) }
  const alone = async (r: Pending): Promise<RotateOutcome> => await one(r) ? ROTATED : await decide(r)

  /** Writes one batch; what it did not rotate is decided beside the next batches, not before them. */
  async function write (batch: Pending[]): Promise<void> {
    let rotated: Set<string>
    try {
      const [first] = batch as [Pending]
      rotated = batch.length > 1 ? await many(batch) : await one(first) ? new Set([first.id]) : new Set()
    } catch (err) {
      if (batch.length === 1 || isConnectionError(unwrap(err))) for (const r of batch) r.reject(err)
      else for (const r of batch) settle(r, alone(r))
      return
    }
    for (const r of batch) {
      if (rotated.has(r.id)) r.resolve(ROTATED)
      else settle(r, decide(r))
    }
  }

  function send (): void {
    if (inFlight || waiting.length === 0) {
      if (!inFlight) onIdle?.()
      return
    }
    // Each token once per batch, in the order asked; the rest wait for the next.
    const ids = new Set<string>()
    const batch: Pending[] = []
    const later: Pending[] = []
    for (const r of waiting) {
      if (batch.length < MAX_BATCH && !ids.has(r.id)) {
        ids.add(r.id)
        batch.push(r)
      } else later.push(r)
    }
    waiting = later
    // The same order in every instance: two batches that share tokens (replays
    // sent to two instances at once) lock them in one order, never in a cycle.
    batch.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    inFlight = true
    void write(batch).finally(() => {
      inFlight = false
      send()
    })
  }

  return {
    async rotate (request: RotationRequest): Promise<RotateOutcome> {
      if (closing) throw new StorageUnavailableError()
      return await new Promise<RotateOutcome>((resolve, reject) => {
        // Sent after this turn of the event loop: its other rotations go along
        // (or sooner, once the batch in flight is answered).
        if (waiting.push({ ...request, resolve, reject }) === 1 && !inFlight) setImmediate(send)
      })
    },

    /** Writes the rotations already asked for; later ones fail (503: the service is shutting down). */
    async close (): Promise<void> {
      closing = true
      if (!inFlight && waiting.length === 0) return
      await new Promise<void>((resolve) => { onIdle = resolve; if (!inFlight) send() })
    }
  }
}
