import type Database from 'better-sqlite3'
import { and, asc, count, eq, gt, inArray, isNotNull, isNull, lt, lte, ne, notLike, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { EmailTakenError } from '../../errors.js'
import { withDomainErrors } from '../domain-errors.js'
import { keyInsertion } from '../signing-key-insertion.js'
import { DIES_WITH_PASSWORD, type AcceptAccountToken, type AccountTokenPurpose, type ImportedUser, type ImportOutcome, type NewAccountToken, type NewRefreshToken, type NewSigningKey, type NewUser, type PasskeyRemoval, type ProfileChange, type RevokeReason, type Store } from '../store.js'
import { importStep } from '../user-import.js'
import { openDatabase, type SqliteOptions } from './connection.js'
import { domainError, isUniqueViolation } from './errors.js'
import { sqliteMfaStore } from './mfa.js'
import { rotationWriter } from './rotations.js'
import { sqliteSessions } from './sessions.js'
import * as schema from './schema.js'
import { sqliteSocialIdentities } from './social.js'
import { userCache } from './user-cache.js'

type RotationWriter = ReturnType<typeof rotationWriter>

const { users, refreshTokens, accountTokens, legacyTokens, signingKeys, passkeys, webauthnChallenges, serviceSecrets, socialIdentities } = schema

/** Opens (creating it and its folder if needed), tunes and migrates the SQLite file: the SQLite Store. */
export function openSqliteStore (options: SqliteOptions): Store {
  const { sqlite, synchronous, busyTimeout, file, write } = openDatabase(options)
  try {
    const rotations = rotationWriter({ path: options.path, synchronous, busyTimeout, file })
    return withDomainErrors(createStore(sqlite, drizzle({ client: sqlite, schema }), write, rotations, options.userCacheSize), domainError)
  } catch (err) {
    sqlite.close()
    throw err
  }
}

function createStore (sqlite: Database.Database, db: ReturnType<typeof drizzle<typeof schema>>, write: <T>(fn: () => T) => T, rotations: RotationWriter, userCacheSize?: number): Store {
  const p = sql.placeholder
  // Hot statements are prepared once.
  const userById = db.select().from(users).where(eq(users.id, p('id'))).prepare()
  const userByEmail = db.select().from(users).where(eq(users.email, p('email'))).prepare()
  const tokenById = db.select().from(refreshTokens).where(eq(refreshTokens.id, p('id'))).prepare()
  const insertToken = db.insert(refreshTokens).values({
    id: p('id'), userId: p('userId'), familyId: p('familyId'), expiresAt: p('expiresAt'), createdAt: p('createdAt')
  }).prepare()
  const revokeFamily = db.update(refreshTokens).set({ revokedAt: p('nowSeconds') as unknown as number, revokeReason: p('reason') as unknown as RevokeReason })
    .where(and(eq(refreshTokens.userId, p('userId')), eq(refreshTokens.familyId, p('familyId')), isNull(refreshTokens.revokedAt))).prepare()
  const revokeUser = db.update(refreshTokens).set({ revokedAt: p('nowSeconds') as unknown as number, revokeReason: p('reason') as unknown as RevokeReason })
    .where(and(eq(refreshTokens.userId, p('userId')), isNull(refreshTokens.revokedAt))).prepare()
  // Every login writes last_login: prepared once too, not built and prepared
  // again by each login (docs/benchmarks.md).
  const recordLastLogin = db.update(users).set({ lastLogin: p('at') as unknown as Date })
    .where(eq(users.id, p('id'))).prepare()
  const recordLastLoginAndHash = db.update(users).set({ lastLogin: p('at') as unknown as Date, passwordHash: p('passwordHash') as unknown as string })
    .where(eq(users.id, p('id'))).prepare()

  const sessions = sqliteSessions(sqlite, write)
  /** A family's first token, and its session's row when it starts one (inside the caller's transaction). */
  const insertFirst = (token: NewRefreshToken): void => {
    insertToken.run(token)
    sessions.insert(token)
  }
  /** revokeFamily, and the family's session ended (inside the caller's transaction). */
  const revokeFamilyAndEnd = sqlite.transaction((args: { userId: string, familyId: string, nowSeconds: number, reason: RevokeReason }): number => {
    const n = revokeFamily.run(args).changes
    sessions.endFamily(args.userId, args.familyId, args.nowSeconds)
    return n
  })
  /** revokeUser, and every session of the user ended (inside the caller's transaction). */
  const revokeUserAndEnd = sqlite.transaction((args: { userId: string, nowSeconds: number, reason: RevokeReason }): number => {
    const n = revokeUser.run(args).changes
    sessions.endUser(args.userId, args.nowSeconds)
    return n
  })

  const usersVersion = sqlite.prepare('SELECT version FROM user_changes WHERE id = 1').pluck()
  const knownUsers = userCache(() => usersVersion.get(), (id) => userById.get({ id }), userCacheSize)
  /**
   * Runs `fn` in a transaction under the write lock, and tells the cache the
   * version its own writes moved `user_changes` to: only another connection's
   * change to users empties the cache (every login writes `last_login`).
   */
  const ownUserWrite = sqlite.transaction((fn: () => unknown) => {
    const before = usersVersion.get()
    const result = fn()
    knownUsers.adopt(before, usersVersion.get())
    return result
  })
  /**
   * A write to users whose work forgets each user it changes (email
   * verification, imports): the version it moves is adopted as for writeUser.
   */
  const writeUsers = <T>(fn: () => T): T => write(() => ownUserWrite.immediate(fn) as T)
  /** A write to user `id`: the cached row is dropped whatever the outcome. */
  const writeUser = <T>(id: string, fn: () => T): T => {
    try { return writeUsers(fn) } finally { knownUsers.forget(id) }
  }

  // `.all()`, not `.get()`: better-sqlite3's get() stops at the first row and
  // drops the error of the commit that follows (disk full, I/O error), so it
  // would return a user that was never stored.
  const createUser = sqlite.transaction((user: NewUser, firstToken: NewRefreshToken | undefined) => {
    const [row] = db.insert(users).values(user).returning().all()
    if (row === undefined) throw new Error('INSERT … RETURNING returned no row')
    if (firstToken !== undefined) insertFirst(firstToken)
    return row
  })

  const recordLogin = sqlite.transaction((id: string, at: Date, rehashed: string | undefined, token: NewRefreshToken | undefined) => {
    if (rehashed === undefined) recordLastLogin.run({ id, at })
    else recordLastLoginAndHash.run({ id, at, passwordHash: rehashed })
    if (token !== undefined) insertFirst(token)
  })

  /**
   * A new password, inside a transaction: the hash (and what else changes with
   * it), every refresh token of the user revoked as a password change (no
   * grace window), and the new login's first token if there is one.
   */
  const writePassword = (id: string, change: { passwordHash: string, emailVerified?: true, tokensValidAfter: number }, nowSeconds: number, next: NewRefreshToken | undefined): void => {
    db.update(users).set(change).where(eq(users.id, id)).run()
    revokeUserAndEnd({ userId: id, nowSeconds, reason: 'password_change' })
    db.delete(accountTokens).where(and(eq(accountTokens.userId, id), inArray(accountTokens.purpose, DIES_WITH_PASSWORD))).run()
    if (next !== undefined) insertFirst(next)
  }
  // A deactivation voids the pending email change for good (a later
  // reactivation does not bring it back); with `tokensValidAfter`, the user's
  // earlier access tokens are refused from then on.
  const setActive = sqlite.transaction((id: string, active: boolean, tokensValidAfter: number | undefined) => {
    db.update(users).set({ isActive: active, ...(tokensValidAfter === undefined ? {} : { tokensValidAfter }) }).where(eq(users.id, id)).run()
    if (!active) db.delete(accountTokens).where(and(eq(accountTokens.userId, id), eq(accountTokens.purpose, 'email_change'))).run()
  })
  const createAccountToken = sqlite.transaction((token: NewAccountToken) => {
    if (token.purpose === 'email_change') {
      db.delete(accountTokens).where(and(eq(accountTokens.userId, token.userId), eq(accountTokens.purpose, 'email_change'))).run()
    }
    db.insert(accountTokens).values(token).run()
  })
  const setPassword = sqlite.transaction((id: string, passwordHash: string, nowSeconds: number, next: NewRefreshToken | undefined, tokensValidAfter: number) => {
    writePassword(id, { passwordHash, tokensValidAfter }, nowSeconds, next)
  })
  const revokeUserEverywhere = sqlite.transaction((userId: string, nowSeconds: number, reason: RevokeReason, tokensValidAfter: number) => {
    db.update(users).set({ tokensValidAfter }).where(eq(users.id, userId)).run()
    return revokeUserAndEnd({ userId, nowSeconds, reason })
  })

  // Mailed tokens are redeemed in BEGIN IMMEDIATE transactions: the checks
  // below read under the file's write lock, so nothing changes between them
  // and the writes, and of concurrent redemptions of one token one wins.
  /** The token and its user, if the token is of one of `purposes`, unused, unexpired, and `accept`ed. */
  const redeemable = (id: string, purposes: AccountTokenPurpose[], nowSeconds: number, accept: AcceptAccountToken) => {
    const token = db.select().from(accountTokens).where(and(eq(accountTokens.id, id), inArray(accountTokens.purpose, purposes),
      isNull(accountTokens.usedAt), gt(accountTokens.expiresAt, nowSeconds))).get()
    const user = token === undefined ? undefined : userById.get({ id: token.userId })
    if (token === undefined || user === undefined || !accept(token, user)) return undefined
    db.update(accountTokens).set({ usedAt: nowSeconds }).where(eq(accountTokens.id, id)).run()
    return { token, user }
  }
  const resetPassword = sqlite.transaction((id: string, passwordHash: string, next: NewRefreshToken, nowSeconds: number, accept: AcceptAccountToken, tokensValidAfter: number) => {
    const redeemed = redeemable(id, ['password_reset'], nowSeconds, (token, user) => token.userId === next.userId && accept(token, user))
    if (redeemed === undefined) return undefined
    writePassword(redeemed.user.id, { passwordHash, emailVerified: true, tokensValidAfter }, nowSeconds, next)
    return userById.get({ id: redeemed.user.id })
  })
  const verifyEmail = sqlite.transaction((id: string, nowSeconds: number, accept: AcceptAccountToken) => {
    const redeemed = redeemable(id, ['email_verification', 'email_change'], nowSeconds, accept)
    if (redeemed === undefined) return undefined
    db.update(users).set({ email: redeemed.token.email, emailVerified: true }).where(eq(users.id, redeemed.user.id)).run()
    knownUsers.forget(redeemed.user.id)
    return userById.get({ id: redeemed.user.id })
  })

  const updateProfile = (id: string, change: ProfileChange) => {
    if (Object.keys(change).length > 0) db.update(users).set(change).where(eq(users.id, id)).run()
    return userById.get({ id })
  }
  // Operators: the command line's bulk writes, each one transaction.
  const insertMany = sqlite.transaction((rows: NewUser[]) =>
    rows.length === 0 ? 0 : db.insert(users).values(rows).onConflictDoNothing({ target: users.email }).run().changes)
  const insertTokens = sqlite.transaction((rows: NewRefreshToken[]) => {
    for (const row of rows) insertFirst(row)
    return rows.length
  })
  const importMany = sqlite.transaction((rows: ImportedUser[], isForeignHash: (hash: string) => boolean) => rows.map((row): ImportOutcome => {
    const byEmail = userByEmail.get({ email: row.email })
    const byLegacyId = db.select({ id: users.id }).from(users).where(eq(users.legacyId, row.legacyId)).get()
    const step = importStep(row, byEmail, byLegacyId, isForeignHash)
    if (step.outcome === 'created') db.insert(users).values(row).run()
    if (step.outcome === 'updated') {
      db.update(users).set(step.change).where(eq(users.id, step.id)).run()
      knownUsers.forget(step.id)
    }
    return step.outcome
  }))
  // isPurgeable (src/tokens/rotation.ts) in SQL: expired rows go, revoked or not.
  const purge = sqlite.transaction((nowSeconds: number) => {
    const [revoked] = db.select({ n: count() }).from(refreshTokens).where(and(lt(refreshTokens.expiresAt, nowSeconds), isNotNull(refreshTokens.revokedAt))).all()
    const counts = {
      expired: db.delete(refreshTokens).where(lt(refreshTokens.expiresAt, nowSeconds)).run().changes,
      revoked: revoked?.n ?? 0,
      legacyTokens: db.delete(legacyTokens).where(lt(legacyTokens.expiresAt, nowSeconds)).run().changes
    }
    sessions.purge(nowSeconds)
    return counts
  })
  const exchangeLegacy = sqlite.transaction((id: string, expiresAt: number, first: NewRefreshToken, nowSeconds: number) => {
    if (db.insert(legacyTokens).values({ id, userId: first.userId, familyId: first.familyId, expiresAt }).onConflictDoNothing().run().changes !== 1) {
      const used = db.select().from(legacyTokens).where(eq(legacyTokens.id, id)).get()
      if (used !== undefined) revokeFamilyAndEnd({ userId: used.userId, familyId: used.familyId, nowSeconds, reason: 'reuse' })
      return 'reused' as const
    }
    insertFirst(first)
    return 'exchanged' as const
  })
  const addSigningKey = sqlite.transaction((key: NewSigningKey, onlyIfNone: boolean): boolean => {
    const insertion = keyInsertion(key, {
      kidTaken: db.select({ kid: signingKeys.kid }).from(signingKeys).where(eq(signingKeys.kid, key.kid)).all().length > 0,
      someKeySigns: db.select({ kid: signingKeys.kid }).from(signingKeys).where(isNull(signingKeys.retiredAt)).all().length > 0
    }, onlyIfNone)
    if (!insertion.add) return false
    db.update(signingKeys).set({ retiredAt: insertion.retireSigningAt }).where(isNull(signingKeys.retiredAt)).run()
    db.insert(signingKeys).values(key).run()
    return true
  })

  // Passkeys. Removal runs under the file's write lock (BEGIN IMMEDIATE): the
  // count it decides on cannot change before its delete.
  const removePasskey = sqlite.transaction((userId: string, id: string, keep: Parameters<Store['passkeys']['remove']>[2]): PasskeyRemoval => {
    const found = db.select({ id: passkeys.id }).from(passkeys).where(and(eq(passkeys.id, id), eq(passkeys.userId, userId))).get()
    const user = userById.get({ id: userId })
    if (found === undefined || user === undefined) return 'not_found'
    const [left] = db.select({ n: count() }).from(passkeys).where(and(eq(passkeys.userId, userId), ne(passkeys.id, id))).all()
    // Social login identities are ways to log in too.
    const [identities] = db.select({ n: count() }).from(socialIdentities).where(eq(socialIdentities.userId, userId)).all()
    if (!keep(user, left?.n ?? 0, { passkeys: left?.n ?? 0, identities: identities?.n ?? 0 })) return 'last_login_method'
    db.delete(passkeys).where(eq(passkeys.id, id)).run()
    return 'removed'
  })

  return {
    socialIdentities: sqliteSocialIdentities(sqlite, db, write),
    passkeys: {
      async create (passkey) { return write(() => db.insert(passkeys).values(passkey).onConflictDoNothing().run().changes) === 1 },
      async byId (id) { return db.select().from(passkeys).where(eq(passkeys.id, id)).get() },
      async byUser (userId) { return db.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.createdAt), asc(passkeys.id)).all() },
      async rename (userId, id, name) {
        return write(() => db.update(passkeys).set({ name }).where(and(eq(passkeys.id, id), eq(passkeys.userId, userId))).returning().all())[0]
      },
      async remove (userId, id, keep) { return write(() => removePasskey.immediate(userId, id, keep)) },
      async recordUse (id, storedCounter, newCounter, backedUp, nowSeconds) {
        return write(() => db.update(passkeys).set({ counter: newCounter, backedUp, lastUsedAt: nowSeconds })
          .where(and(eq(passkeys.id, id), eq(passkeys.counter, storedCounter))).run().changes) === 1
      }
    },
    webauthnChallenges: {
      async create (challenge) { write(() => db.insert(webauthnChallenges).values(challenge).run()) },
      async consume (challenge, purpose, nowSeconds, userId) {
        return write(() => db.delete(webauthnChallenges).where(and(eq(webauthnChallenges.challenge, challenge), eq(webauthnChallenges.purpose, purpose),
          gt(webauthnChallenges.expiresAt, nowSeconds), userId === undefined ? undefined : eq(webauthnChallenges.userId, userId))).returning().all())[0]
      },
      async purgeExpired (nowSeconds) {
        return write(() => db.delete(webauthnChallenges).where(lte(webauthnChallenges.expiresAt, nowSeconds)).run().changes)
      }
    },
    users: {
      async create (user, firstToken) {
        try {
          return write(() => createUser.immediate(user, firstToken))
        } catch (err) {
          if (isUniqueViolation(err)) throw new EmailTakenError()
          throw err
        }
      },
      async byId (id) { return knownUsers.get(id) },
      byIdNow: (id) => knownUsers.get(id),
      async byEmail (email) { return userByEmail.get({ email }) },
      async recordLogin (id, at, rehashed, token) {
        writeUser(id, () => recordLogin.immediate(id, at, rehashed, token))
      },
      async setActive (id, active, tokensValidAfter) { writeUser(id, () => setActive.immediate(id, active, tokensValidAfter)) },
      async remove (id) { writeUser(id, () => db.delete(users).where(eq(users.id, id)).run()) },
      async setPassword (id, passwordHash, nowSeconds, next, tokensValidAfter = nowSeconds * 1000) {
        writeUser(id, () => setPassword.immediate(id, passwordHash, nowSeconds, next, tokensValidAfter))
      },
      async updateProfile (id, change) { return writeUser(id, () => updateProfile(id, change)) },
      async setEmail (id, email, verified) {
        try {
          writeUser(id, () => db.update(users).set({ email, emailVerified: verified }).where(eq(users.id, id)).run())
        } catch (err) {
          if (isUniqueViolation(err)) throw new EmailTakenError()
          throw err
        }
      },
      async list (limit, offset = 0) {
        return db.select().from(users).orderBy(asc(users.dateJoined), asc(users.id)).limit(limit).offset(offset).all()
      },
      async count () { return db.select({ n: count() }).from(users).all()[0]?.n ?? 0 },
      async byLegacyId (legacyId) { return db.select().from(users).where(eq(users.legacyId, legacyId)).get() },
      async foreignHashSample () {
        return db.select({ hash: users.passwordHash }).from(users)
          .where(and(isNotNull(users.legacyId), notLike(users.passwordHash, '$argon2id$%'), notLike(users.passwordHash, '!%'))).limit(1).get()?.hash
      },
      async insertMany (rows) { return write(() => insertMany.immediate(rows)) },
      async byEmails (emails) { return emails.length === 0 ? [] : db.select().from(users).where(inArray(users.email, emails)).all() },
      async verifyEmails (emails) {
        if (emails.length === 0) return 0
        return writeUsers(() => {
          const changed = db.update(users).set({ emailVerified: true }).where(and(inArray(users.email, emails), eq(users.emailVerified, false))).returning({ id: users.id }).all()
          for (const { id } of changed) knownUsers.forget(id)
          return changed.length
        })
      },
      async importMany (rows, isForeignHash) { return writeUsers(() => importMany(rows, isForeignHash)) }
    },
    accountTokens: {
      async create (token) { write(() => createAccountToken.immediate(token)) },
      async byId (id) { return db.select().from(accountTokens).where(eq(accountTokens.id, id)).get() },
      async resetPassword (id, passwordHash, next, nowSeconds, accept, tokensValidAfter = nowSeconds * 1000) {
        return writeUser(next.userId, () => resetPassword.immediate(id, passwordHash, next, nowSeconds, accept, tokensValidAfter))
      },
      async verifyEmail (id, nowSeconds, accept) {
        try {
          return writeUsers(() => verifyEmail(id, nowSeconds, accept))
        } catch (err) {
          if (isUniqueViolation(err)) throw new EmailTakenError()
          throw err
        }
      },
      async purgeExpired (nowSeconds) {
        return write(() => db.delete(accountTokens).where(lt(accountTokens.expiresAt, nowSeconds)).run().changes)
      }
    },
    refreshTokens: {
      async byId (id) { return tokenById.get({ id }) },
      async rotate (id, next, nowSeconds, grace) { return await rotations.rotate({ id, next, nowSeconds, grace }) },
      async revokeFamily (userId, familyId, nowSeconds, reason = 'logout') { return write(() => revokeFamilyAndEnd.immediate({ userId, familyId, nowSeconds, reason })) },
      async revokeUser (userId, nowSeconds, reason = 'logout_all', tokensValidAfter) {
        if (tokensValidAfter === undefined) return write(() => revokeUserAndEnd.immediate({ userId, nowSeconds, reason }))
        return writeUser(userId, () => revokeUserEverywhere(userId, nowSeconds, reason, tokensValidAfter))
      },
      async purge (nowSeconds) { return write(() => purge.immediate(nowSeconds)) },
      async insertMany (rows) { return write(() => insertTokens.immediate(rows)) }
    },
    legacyTokens: {
      async exchange (id, expiresAt, first, nowSeconds) { return write(() => exchangeLegacy.immediate(id, expiresAt, first, nowSeconds)) },
      async retire (id, userId, expiresAt) {
        write(() => db.insert(legacyTokens).values({ id, userId, familyId: '', expiresAt }).onConflictDoNothing().run())
      }
    },
    signingKeys: {
      async list () { return db.select().from(signingKeys).all() },
      async add (key, options) { return write(() => addSigningKey.immediate(key, options?.onlyIfNone === true)) },
      async remove (kid) {
        return write(() => db.delete(signingKeys).where(and(eq(signingKeys.kid, kid), isNotNull(signingKeys.retiredAt))).run().changes) === 1
      },
      async purgeRetired (before) {
        return write(() => db.delete(signingKeys).where(and(isNotNull(signingKeys.retiredAt), lt(signingKeys.retiredAt, before))).run().changes)
      },
      async replaceSecret (kid, from, to) {
        return write(() => db.update(signingKeys).set({ secret: to }).where(and(eq(signingKeys.kid, kid), eq(signingKeys.secret, from))).run().changes) === 1
      }
    },
    serviceSecrets: {
      async get (name) { return db.select().from(serviceSecrets).where(eq(serviceSecrets.name, name)).get()?.value },
      async getOrAdd (name, value, createdAt) {
        write(() => db.insert(serviceSecrets).values({ name, value, createdAt }).onConflictDoNothing().run())
        const row = db.select().from(serviceSecrets).where(eq(serviceSecrets.name, name)).get()
        if (row === undefined) throw new Error(`service secret ${name} was not stored`)
        return row.value
      },
      async replace (name, from, to) {
        return write(() => db.update(serviceSecrets).set({ value: to }).where(and(eq(serviceSecrets.name, name), eq(serviceSecrets.value, from))).run().changes) === 1
      }
    },
    sessions: sessions.api,
    mfa: sqliteMfaStore(sqlite, db, write),
    async ping () { sqlite.prepare('SELECT 1').get() },
    async close () {
      await rotations.close()
      if (sqlite.open) sqlite.close()
    }
  }
}
