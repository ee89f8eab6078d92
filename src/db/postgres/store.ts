import { and, asc, count, eq, gt, inArray, isNotNull, isNull, lt, lte, ne, notLike, sql } from 'drizzle-orm'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { alias } from 'drizzle-orm/pg-core'
import type pg from 'pg'
import { EmailTakenError } from '../../errors.js'
import { decideRotation } from '../../tokens/rotation.js'
import { withDomainErrors } from '../domain-errors.js'
import { keyInsertion } from '../signing-key-insertion.js'
import { DIES_WITH_PASSWORD, type AcceptAccountToken, type AccountTokenPurpose, type ImportOutcome, type NewRefreshToken, type PasskeyRemoval, type RevokeReason, type RotateOutcome, type RotationRequest, type Store, type User } from '../store.js'
import { importStep } from '../user-import.js'
import { inTransaction as runInTransaction, migrateLocked, openPool, type Tx } from './connection.js'
import { codeOf, domainError, startError, unwrap } from './errors.js'
import { postgresMfaStore } from './mfa.js'
import { pgRotations } from './rotations.js'
import * as schema from './schema.js'
import { pgSessions } from './sessions.js'
import { postgresSocialIdentities } from './social.js'
import { USERS_CACHED } from '../../config-env.js'
import { USER_CACHE_TTL_MS, USER_CHANNEL, userChangeListener, type UserCache } from './user-cache.js'

const { users, refreshTokens, accountTokens, legacyTokens, signingKeys, passkeys, webauthnChallenges, serviceSecrets, socialIdentities } = schema

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database?…` (anything node-postgres accepts). */
  url: string
  /**
   * Connections in the pool. The work per request is a few short statements;
   * on a small machine (2 cores, the database often on the same host) more
   * connections than a few per core only queue inside PostgreSQL instead of here.
   */
  max?: number
  /** How long to wait for a connection (new, or a free one from the pool) before failing with 503. */
  connectionTimeoutMillis?: number
  /**
   * How long one statement may wait for its answer before failing with 503
   * (its connection is then discarded): a server or network that stops
   * answering without closing the connection must not hold a request forever.
   */
  queryTimeoutMillis?: number
  /** Errors of idle pooled connections (server restart, network loss); they are dropped from the pool either way. */
  onIdleError?: (err: Error) => void
  /**
   * Longest time a user row is served from this instance's cache. Changes made
   * through any instance reach every cache at once (NOTIFY); this bounds
   * changes made beside the service (plain SQL on the table). 0 = no cache.
   */
  userCacheTtlMs?: number
  /** Users remembered (USER_CACHE_SIZE; USERS_CACHED by default); 0 turns the cache off, as userCacheTtlMs 0 does. */
  userCacheSize?: number
  /** The user-change listener lost its connection (the cache is bypassed until it is back) or got it back. */
  onListener?: (state: 'up' | 'down', err?: Error) => void
  /** The ended-session listener lost its connection (sessions are read from the table until it is back) or got it back. */
  onSessionListener?: (state: 'up' | 'down', err?: Error) => void
}

type Db = NodePgDatabase<typeof schema>

/**
 * Connects, migrates (`migrations/postgres`, under an advisory lock so that
 * several instances may start at once) and returns the Store.
 * Throws DatabaseStartError when the server cannot be used.
 */
export async function openPostgresStore ({ url, max = 8, connectionTimeoutMillis = 5000, queryTimeoutMillis = 5000, onIdleError, userCacheTtlMs = USER_CACHE_TTL_MS, userCacheSize = USERS_CACHED, onListener, onSessionListener }: PostgresOptions): Promise<Store> {
  const pool = openPool({ url, max, connectionTimeoutMillis, queryTimeoutMillis, onIdleError })
  try {
    await migrateLocked(url, connectionTimeoutMillis)
  } catch (err) {
    await pool.end().catch(() => {})
    throw startError(err, url)
  }
  const cache = userCacheTtlMs > 0 && userCacheSize > 0
    ? userChangeListener(url, connectionTimeoutMillis, userCacheTtlMs, onListener, userCacheSize)
    : undefined
  const sessions = pgSessions(pool, url, connectionTimeoutMillis, undefined, onSessionListener)
  return withDomainErrors(createStore(pool, drizzle({ client: pool, schema }), sessions, cache), domainError)
}

type Sessions = ReturnType<typeof pgSessions>
type Ended = Parameters<Sessions['committed']>[0]

function createStore (pool: pg.Pool, db: Db, sessions: Sessions, cache?: UserCache): Store {
  const p = sql.placeholder
  const inTransaction = async <T>(work: (tx: Tx) => Promise<T>): Promise<T> => await runInTransaction(pool, work)
  // Hot reads: named statements, parsed once per connection.
  const userById = db.select().from(users).where(eq(users.id, p('id'))).limit(1).prepare('auth_user_by_id')
  const userByEmail = db.select().from(users).where(eq(users.email, p('email'))).limit(1).prepare('auth_user_by_email')
  const tokenById = db.select().from(refreshTokens).where(eq(refreshTokens.id, p('id'))).limit(1).prepare('auth_token_by_id')

  // Statements run inside a transaction are bound to its connection, so they
  // are built per call; their names still let each connection parse them once.
  const txInsertToken = async (tx: Tx, token: NewRefreshToken): Promise<void> => {
    await tx.insert(refreshTokens).values({
      id: p('id'), userId: p('userId'), familyId: p('familyId'), expiresAt: p('expiresAt'), createdAt: p('createdAt')
    }).prepare('auth_token_insert').execute(token)
    await sessions.insert(tx, token)
  }
  /**
   * A rotation that no statement of src/db/postgres/rotations.ts matched, decided in a REPEATABLE
   * READ transaction (the same conditional UPDATE first, in case the token is
   * live after all): the grace window's replay, reuse (theft) or unknown.
   */
  const rotateOrDecide = async ({ id, next, nowSeconds, grace }: RotationRequest): Promise<RotateOutcome> => await inTransaction(async (tx): Promise<RotateOutcome> => {
    // The conditional UPDATE (isRotatable, src/tokens/rotation.ts, in SQL)
    // is the whole race: of concurrent rotations of one token exactly one
    // sees `revoked_at IS NULL` and changes the row. The others wait for
    // its row lock, then fail to serialise (REPEATABLE READ) and run again
    // on a snapshot that holds the rotation, where decideRotation finds the
    // grace path — in this process or in any other sharing the database.
    const [rotated] = await tx.update(refreshTokens).set({
      revokedAt: p('nowSeconds') as unknown as number,
      revokeReason: 'rotated',
      successorId: p('successorId') as unknown as string,
      successorSealed: p('sealed') as unknown as string
    }).where(and(eq(refreshTokens.id, p('id')), eq(refreshTokens.userId, p('userId')), isNull(refreshTokens.revokedAt)))
      .returning({ familyId: refreshTokens.familyId })
      .prepare('auth_rotate_live').execute({ id, userId: next.userId, nowSeconds, successorId: next.id, sealed: grace?.sealed ?? null })
    if (rotated !== undefined) {
      await txInsertToken(tx, { ...next, familyId: rotated.familyId })
      await tx.update(schema.sessions).set({ lastUsedAt: nowSeconds, expiresAt: next.expiresAt, accessExpiresAt: sql`GREATEST(${schema.sessions.accessExpiresAt}, ${next.accessExpiresAt ?? 0})` })
        .where(eq(schema.sessions.id, rotated.familyId))
      return { kind: 'rotated' }
    }
    const [row] = await withSuccessor(tx, id)
    const decision = decideRotation(row?.token, row?.successor ?? undefined, { userId: next.userId, nowSeconds, grace })
    switch (decision.kind) {
      case 'replay': return { kind: 'replayed', successorId: decision.successorId, sealed: decision.sealed }
      case 'reuse':
        await revokeFamily(tx, decision.userId, decision.familyId, nowSeconds, 'reuse')
        return { kind: 'reused' }
      case 'unknown': return { kind: 'unknown' }
      case 'rotate': throw new Error('a live token that the rotation\'s UPDATE did not match')
    }
  })
  const rotations = pgRotations({ pool, decide: rotateOrDecide })
  /** The presented token and the token it was rotated into, in one statement. */
  const successors = alias(refreshTokens, 'successor')
  const withSuccessor = async (tx: Tx, id: string) =>
    await tx.select({
      token: {
        userId: refreshTokens.userId,
        familyId: refreshTokens.familyId,
        revokedAt: refreshTokens.revokedAt,
        revokeReason: refreshTokens.revokeReason,
        successorId: refreshTokens.successorId,
        successorSealed: refreshTokens.successorSealed
      },
      successor: { familyId: successors.familyId, revokedAt: successors.revokedAt }
    }).from(refreshTokens).leftJoin(successors, eq(successors.id, refreshTokens.successorId))
      .where(eq(refreshTokens.id, p('id'))).limit(1).prepare('auth_token_with_successor').execute({ id })
  /** Tells every instance's cache (this one's too, on delivery) that user `id` changed; sent at commit. */
  const notifyUser = async (tx: Tx | typeof db, id: string): Promise<void> => {
    await tx.execute(sql`SELECT pg_notify(${USER_CHANNEL}, ${id})`)
  }
  /**
   * A write to user `id`: one transaction with its NOTIFY (unless `changed`
   * says the work wrote nothing); this instance's cached row is dropped
   * whatever the outcome.
   */
  const writeUser = async <T>(id: string, work: (tx: Tx) => Promise<T>, changed: (result: T) => boolean = () => true): Promise<T> => {
    try {
      return await inTransaction(async (tx) => {
        const result = await work(tx)
        if (changed(result)) await notifyUser(tx, id)
        return result
      })
    } finally {
      cache?.forget(id)
    }
  }
  const revokeWhere = async (tx: Tx, name: string, where: ReturnType<typeof and>, params: Record<string, unknown>): Promise<number> => {
    const res = await tx.update(refreshTokens).set({ revokedAt: p('nowSeconds') as unknown as number, revokeReason: p('reason') as unknown as RevokeReason })
      .where(and(where, isNull(refreshTokens.revokedAt))).prepare(name).execute(params)
    return res.rowCount ?? 0
  }
  // Revoking a family's tokens ends its session, a user's every session of
  // theirs; the ended ones go to `ended` (for this instance's denylist once committed).
  const revokeFamily = async (tx: Tx, userId: string, familyId: string, nowSeconds: number, reason: RevokeReason, ended?: Ended): Promise<number> => {
    const n = await revokeWhere(tx, 'auth_revoke_family', and(eq(refreshTokens.userId, p('userId')), eq(refreshTokens.familyId, p('familyId'))), { userId, familyId, nowSeconds, reason })
    const over = await sessions.endFamily(tx, userId, familyId, nowSeconds)
    ended?.push(...over)
    return n
  }
  const revokeUser = async (tx: Tx, userId: string, nowSeconds: number, reason: RevokeReason, ended?: Ended): Promise<number> => {
    const n = await revokeWhere(tx, 'auth_revoke_user', eq(refreshTokens.userId, p('userId')), { userId, nowSeconds, reason })
    const over = await sessions.endUser(tx, userId, nowSeconds)
    ended?.push(...over)
    return n
  }
  /** `work` in a transaction, given a list of the sessions it ends, which are denied here once it commits. */
  const ending = async <T>(work: (ended: Ended) => Promise<T>): Promise<T> => {
    const ended: Ended = []
    const result = await work(ended)
    await sessions.committed(ended)
    return result
  }

  /**
   * A new password, inside a transaction: the hash (and what else changes with
   * it), every refresh token of the user revoked as a password change (no
   * grace window), and the new login's first token if there is one. Returns
   * the updated user.
   */
  const writePassword = async (tx: Tx, id: string, change: { passwordHash: string, emailVerified?: true, tokensValidAfter: number }, nowSeconds: number, next: NewRefreshToken | undefined, ended: Ended): Promise<User | undefined> => {
    const [updated] = await tx.update(users).set(change).where(eq(users.id, id)).returning()
    ended.length = 0
    await revokeUser(tx, id, nowSeconds, 'password_change', ended)
    await tx.delete(accountTokens).where(and(eq(accountTokens.userId, id), inArray(accountTokens.purpose, DIES_WITH_PASSWORD)))
    if (next !== undefined) await txInsertToken(tx, next)
    return updated
  }

  /**
   * A mailed token being redeemed, inside a transaction: the token and its
   * user, if the token is of one of `purposes`, unused, unexpired, and
   * `accept`ed; it is then marked used. The token's row is locked (FOR
   * UPDATE): of concurrent redemptions one goes on, the others wait for it,
   * fail to serialise (REPEATABLE READ) and run again on a snapshot where the
   * token is used. The user's row is not locked: the caller updates it, so a
   * change made to it meanwhile fails to serialise the same way, and the retry
   * asks `accept` about the row as it is now.
   */
  const redeemable = async (tx: Tx, id: string, purposes: AccountTokenPurpose[], nowSeconds: number, accept: AcceptAccountToken) => {
    const [token] = await tx.select().from(accountTokens).where(and(eq(accountTokens.id, id), inArray(accountTokens.purpose, purposes),
      isNull(accountTokens.usedAt), gt(accountTokens.expiresAt, nowSeconds))).limit(1).for('update')
    const [user] = token === undefined ? [] : await tx.select().from(users).where(eq(users.id, token.userId)).limit(1)
    if (token === undefined || user === undefined || !accept(token, user)) return undefined
    await tx.update(accountTokens).set({ usedAt: nowSeconds }).where(eq(accountTokens.id, id))
    return { token, user }
  }

  let closed = false

  return {
    socialIdentities: postgresSocialIdentities(db, inTransaction),
    passkeys: {
      create: async (passkey) => ((await db.insert(passkeys).values(passkey).onConflictDoNothing()).rowCount ?? 0) === 1,
      byId: async (id) => (await db.select().from(passkeys).where(eq(passkeys.id, id)).limit(1))[0],
      byUser: async (userId) => await db.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.createdAt), asc(passkeys.id)),
      rename: async (userId, id, name) => (await db.update(passkeys).set({ name }).where(and(eq(passkeys.id, id), eq(passkeys.userId, userId))).returning())[0],
      // The user's row is written first (unchanged: a new row version, no
      // NOTIFY needed), not merely locked: a concurrent removal for the same
      // user then waits for this one and fails to serialise (REPEATABLE READ;
      // a lock alone would let it go on with its older snapshot, which still
      // counts the passkey deleted here), and its retry counts what is left.
      remove: async (userId, id, keep) => await inTransaction(async (tx): Promise<PasskeyRemoval> => {
        const [user] = await tx.update(users).set({ id: sql`${users.id}` }).where(eq(users.id, userId)).returning()
        const [found] = await tx.select({ id: passkeys.id }).from(passkeys).where(and(eq(passkeys.id, id), eq(passkeys.userId, userId))).limit(1)
        if (user === undefined || found === undefined) return 'not_found'
        const [left] = await tx.select({ n: count() }).from(passkeys).where(and(eq(passkeys.userId, userId), ne(passkeys.id, id)))
        // Social login identities are ways to log in too.
        const [identities] = await tx.select({ n: count() }).from(socialIdentities).where(eq(socialIdentities.userId, userId))
        if (!keep(user, left?.n ?? 0, { passkeys: left?.n ?? 0, identities: identities?.n ?? 0 })) return 'last_login_method'
        await tx.delete(passkeys).where(eq(passkeys.id, id))
        return 'removed'
      }),
      recordUse: async (id, storedCounter, newCounter, backedUp, nowSeconds) =>
        ((await db.update(passkeys).set({ counter: newCounter, backedUp, lastUsedAt: nowSeconds })
          .where(and(eq(passkeys.id, id), eq(passkeys.counter, storedCounter)))).rowCount ?? 0) === 1
    },
    webauthnChallenges: {
      create: async (challenge) => { await db.insert(webauthnChallenges).values(challenge) },
      consume: async (challenge, purpose, nowSeconds, userId) =>
        (await db.delete(webauthnChallenges).where(and(eq(webauthnChallenges.challenge, challenge), eq(webauthnChallenges.purpose, purpose),
          gt(webauthnChallenges.expiresAt, nowSeconds), userId === undefined ? undefined : eq(webauthnChallenges.userId, userId))).returning())[0],
      purgeExpired: async (nowSeconds) => (await db.delete(webauthnChallenges).where(lte(webauthnChallenges.expiresAt, nowSeconds))).rowCount ?? 0
    },
    users: {
      create: async (user, firstToken) => {
        try {
          const insert = async (q: Tx | typeof db) => {
            const [row] = await q.insert(users).values(user).returning()
            if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
            return row
          }
          if (firstToken === undefined) return await insert(db)
          // A join: the user and its first refresh token, or neither.
          return await inTransaction(async (tx) => {
            const row = await insert(tx)
            await txInsertToken(tx, firstToken)
            return row
          })
        } catch (err) {
          if (codeOf(unwrap(err)) === '23505') throw new EmailTakenError()
          throw err
        }
      },
      byId: async (id) => {
        if (cache === undefined) return (await userById.execute({ id }))[0]
        return cache.get(id) ?? await cache.load(id, async () => (await userById.execute({ id }))[0])
      },
      byEmail: async (email) => (await userByEmail.execute({ email }))[0],
      recordLogin: async (id, at, rehashed, token) => {
        const update = async (q: Tx | typeof db): Promise<void> => {
          await q.update(users).set(rehashed === undefined ? { lastLogin: at } : { lastLogin: at, passwordHash: rehashed })
            .where(eq(users.id, id))
        }
        // A login: last_login and the new family's first token, or neither.
        await writeUser(id, async (tx) => {
          await update(tx)
          if (token !== undefined) await txInsertToken(tx, token)
        })
      },
      setActive: async (id, active, tokensValidAfter) => {
        await writeUser(id, async (tx) => {
          await tx.update(users).set({ isActive: active, ...(tokensValidAfter === undefined ? {} : { tokensValidAfter }) }).where(eq(users.id, id))
          // A deactivation voids the pending email change for good (a later reactivation does not bring it back).
          if (!active) await tx.delete(accountTokens).where(and(eq(accountTokens.userId, id), eq(accountTokens.purpose, 'email_change')))
        })
      },
      remove: async (id) => { await writeUser(id, async (tx) => { await tx.delete(users).where(eq(users.id, id)) }) },
      setPassword: async (id, passwordHash, nowSeconds, next, tokensValidAfter = nowSeconds * 1000) => {
        await ending(async (ended) => { await writeUser(id, async (tx) => { await writePassword(tx, id, { passwordHash, tokensValidAfter }, nowSeconds, next, ended) }) })
      },
      updateProfile: async (id, change) => {
        if (Object.keys(change).length === 0) return (await userById.execute({ id }))[0]
        const [row] = await writeUser(id, async (tx) => await tx.update(users).set(change).where(eq(users.id, id)).returning())
        return row
      },
      setEmail: async (id, email, verified) => {
        try {
          await writeUser(id, async (tx) => { await tx.update(users).set({ email, emailVerified: verified }).where(eq(users.id, id)) })
        } catch (err) {
          if (codeOf(unwrap(err)) === '23505') throw new EmailTakenError()
          throw err
        }
      },
      // Operators (the command line).
      list: async (limit, offset = 0) => await db.select().from(users)
        .orderBy(asc(users.dateJoined), asc(users.id)).limit(limit).offset(offset),
      count: async () => (await db.select({ n: count() }).from(users))[0]?.n ?? 0,
      byLegacyId: async (legacyId) => (await db.select().from(users).where(eq(users.legacyId, legacyId)).limit(1))[0],
      byEmails: async (emails) => emails.length === 0 ? [] : await db.select().from(users).where(inArray(users.email, emails)),
      foreignHashSample: async () => (await db.select({ hash: users.passwordHash }).from(users)
        .where(and(isNotNull(users.legacyId), notLike(users.passwordHash, '$argon2id$%'), notLike(users.passwordHash, '!%'))).limit(1))[0]?.hash,
      insertMany: async (rows) => {
        if (rows.length === 0) return 0
        return await inTransaction(async (tx) => (await tx.insert(users).values(rows).onConflictDoNothing({ target: users.email })).rowCount ?? 0)
      },
      verifyEmails: async (emails) => {
        if (emails.length === 0) return 0
        const changed = await inTransaction(async (tx) => {
          const rows = await tx.update(users).set({ emailVerified: true }).where(and(inArray(users.email, emails), eq(users.emailVerified, false))).returning({ id: users.id })
          for (const { id } of rows) await notifyUser(tx, id)
          return rows
        })
        for (const { id } of changed) cache?.forget(id)
        return changed.length
      },
      importMany: async (rows, isForeignHash) => await inTransaction(async (tx) => {
        const outcomes: ImportOutcome[] = []
        for (const row of rows) {
          const [byEmail] = await tx.select({ id: users.id, passwordHash: users.passwordHash }).from(users).where(eq(users.email, row.email)).limit(1)
          const [byLegacyId] = await tx.select({ id: users.id }).from(users).where(eq(users.legacyId, row.legacyId)).limit(1)
          const step = importStep(row, byEmail, byLegacyId, isForeignHash)
          if (step.outcome === 'created') await tx.insert(users).values(row)
          if (step.outcome === 'updated') {
            await tx.update(users).set(step.change).where(eq(users.id, step.id))
            await notifyUser(tx, step.id)
            cache?.forget(step.id)
          }
          outcomes.push(step.outcome)
        }
        return outcomes
      })
    },
    accountTokens: {
      create: async (token) => {
        if (token.purpose !== 'email_change') {
          await db.insert(accountTokens).values(token)
          return
        }
        await inTransaction(async (tx) => {
          await tx.delete(accountTokens).where(and(eq(accountTokens.userId, token.userId), eq(accountTokens.purpose, 'email_change')))
          await tx.insert(accountTokens).values(token)
        })
      },
      byId: async (id) => (await db.select().from(accountTokens).where(eq(accountTokens.id, id)).limit(1))[0],
      resetPassword: async (id, passwordHash, next, nowSeconds, accept, tokensValidAfter = nowSeconds * 1000) => await ending(async (ended) => await writeUser(next.userId, async (tx) => {
        ended.length = 0
        const redeemed = await redeemable(tx, id, ['password_reset'], nowSeconds, (token, user) => token.userId === next.userId && accept(token, user))
        return redeemed === undefined ? undefined : await writePassword(tx, redeemed.user.id, { passwordHash, emailVerified: true, tokensValidAfter }, nowSeconds, next, ended)
      }, (updated) => updated !== undefined)),
      verifyEmail: async (id, nowSeconds, accept) => {
        let changed: string | undefined
        try {
          return await inTransaction(async (tx) => {
            const redeemed = await redeemable(tx, id, ['email_verification', 'email_change'], nowSeconds, accept)
            if (redeemed === undefined) return undefined
            changed = redeemed.user.id
            const [updated] = await tx.update(users).set({ email: redeemed.token.email, emailVerified: true }).where(eq(users.id, redeemed.user.id)).returning()
            await notifyUser(tx, redeemed.user.id)
            return updated
          })
        } catch (err) {
          if (codeOf(unwrap(err)) === '23505') throw new EmailTakenError()
          throw err
        } finally {
          if (changed !== undefined) cache?.forget(changed)
        }
      },
      purgeExpired: async (nowSeconds) => (await db.delete(accountTokens).where(lt(accountTokens.expiresAt, nowSeconds))).rowCount ?? 0
    },
    refreshTokens: {
      byId: async (id) => (await tokenById.execute({ id }))[0],
      // Group-committed (src/db/postgres/rotations.ts); what no batch matched is decided by rotateOrDecide.
      rotate: async (id, next, nowSeconds, grace) => await rotations.rotate({ id, next, nowSeconds, grace }),
      revokeFamily: async (userId, familyId, nowSeconds, reason = 'logout') => await ending(async (ended) =>
        await inTransaction(async (tx) => { ended.length = 0; return await revokeFamily(tx, userId, familyId, nowSeconds, reason, ended) })),
      revokeUser: async (userId, nowSeconds, reason = 'logout_all', tokensValidAfter) => await ending(async (ended) => {
        if (tokensValidAfter === undefined) return await inTransaction(async (tx) => { ended.length = 0; return await revokeUser(tx, userId, nowSeconds, reason, ended) })
        // "Log out everywhere" writes the user too: with its NOTIFY, every instance's cache forgets the row.
        return await writeUser(userId, async (tx) => {
          ended.length = 0
          await tx.update(users).set({ tokensValidAfter }).where(eq(users.id, userId))
          return await revokeUser(tx, userId, nowSeconds, reason, ended)
        })
      }),
      // One multi-row INSERT of the tokens, one of their sessions, one transaction.
      insertMany: async (rows) => rows.length === 0
        ? 0
        : await inTransaction(async (tx) => {
          const inserted = (await tx.insert(refreshTokens).values(rows)).rowCount ?? 0
          await sessions.insertMany(tx, rows)
          return inserted
        }),
      // isPurgeable (src/tokens/rotation.ts) in SQL: expired rows go, revoked or not.
      purge: async (nowSeconds) => await inTransaction(async (tx) => {
        const [revoked] = await tx.select({ n: count() }).from(refreshTokens).where(and(lt(refreshTokens.expiresAt, nowSeconds), isNotNull(refreshTokens.revokedAt)))
        const expired = await tx.delete(refreshTokens).where(lt(refreshTokens.expiresAt, nowSeconds))
        const legacy = await tx.delete(legacyTokens).where(lt(legacyTokens.expiresAt, nowSeconds))
        // Sessions over (ended, or their refresh token expired) whose access tokens have all expired.
        await tx.execute(sql`DELETE FROM sessions WHERE (ended_at IS NOT NULL OR expires_at < ${nowSeconds}) AND access_expires_at < ${nowSeconds}`)
        return { expired: expired.rowCount ?? 0, revoked: revoked?.n ?? 0, legacyTokens: legacy.rowCount ?? 0 }
      })
    },
    legacyTokens: {
      exchange: async (id, expiresAt, first, nowSeconds) => await inTransaction(async (tx) => {
        const inserted = await tx.insert(legacyTokens).values({ id, userId: first.userId, familyId: first.familyId, expiresAt }).onConflictDoNothing()
        if (inserted.rowCount !== 1) {
          const [used] = await tx.select().from(legacyTokens).where(eq(legacyTokens.id, id)).limit(1)
          if (used !== undefined) await revokeFamily(tx, used.userId, used.familyId, nowSeconds, 'reuse')
          return 'reused' as const
        }
        await txInsertToken(tx, first)
        return 'exchanged' as const
      }),
      retire: async (id, userId, expiresAt) => {
        await db.insert(legacyTokens).values({ id, userId, familyId: '', expiresAt }).onConflictDoNothing()
      }
    },
    signingKeys: {
      list: async () => await db.select().from(signingKeys),
      add: async (key, options) => {
        try {
          return await inTransaction(async (tx) => {
            const insertion = keyInsertion(key, {
              kidTaken: (await tx.select({ kid: signingKeys.kid }).from(signingKeys).where(eq(signingKeys.kid, key.kid))).length > 0,
              someKeySigns: (await tx.select({ kid: signingKeys.kid }).from(signingKeys).where(isNull(signingKeys.retiredAt))).length > 0
            }, options?.onlyIfNone === true)
            if (!insertion.add) return false
            await tx.update(signingKeys).set({ retiredAt: insertion.retireSigningAt }).where(isNull(signingKeys.retiredAt))
            await tx.insert(signingKeys).values(key)
            return true
          })
        } catch (err) {
          // Another instance stored its first key (or this kid) at the same
          // moment: the unique indexes make one of them win, and that is enough.
          if (codeOf(unwrap(err)) === '23505') return false
          throw err
        }
      },
      remove: async (kid) => {
        const res = await db.delete(signingKeys).where(and(eq(signingKeys.kid, kid), isNotNull(signingKeys.retiredAt)))
        return res.rowCount === 1
      },
      purgeRetired: async (before) => {
        const res = await db.delete(signingKeys).where(and(isNotNull(signingKeys.retiredAt), lt(signingKeys.retiredAt, before)))
        return res.rowCount ?? 0
      },
      replaceSecret: async (kid, from, to) => {
        const res = await db.update(signingKeys).set({ secret: to }).where(and(eq(signingKeys.kid, kid), eq(signingKeys.secret, from)))
        return res.rowCount === 1
      }
    },
    serviceSecrets: {
      get: async (name) => (await db.select().from(serviceSecrets).where(eq(serviceSecrets.name, name)).limit(1))[0]?.value,
      getOrAdd: async (name, value, createdAt) => {
        await db.insert(serviceSecrets).values({ name, value, createdAt }).onConflictDoNothing()
        const [row] = await db.select().from(serviceSecrets).where(eq(serviceSecrets.name, name)).limit(1)
        if (row === undefined) throw new Error(`service secret ${name} was not stored`)
        return row.value
      },
      replace: async (name, from, to) => {
        const res = await db.update(serviceSecrets).set({ value: to }).where(and(eq(serviceSecrets.name, name), eq(serviceSecrets.value, from)))
        return res.rowCount === 1
      }
    },
    sessions: sessions.api(inTransaction),
    mfa: postgresMfaStore(db, inTransaction),
    ping: async () => { await pool.query('SELECT 1') },
    async close () {
      if (closed) return
      closed = true
      await rotations.close()
      await cache?.close()
      await sessions.close()
      await pool.end()
    }
  }
}
