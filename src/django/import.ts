import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { isEmailAddress, normalizeEmail } from '../accounts/accounts.js'
import { unusablePassword } from '../accounts/social-accounts.js'
import type { ImportedUser, Store } from '../db/store.js'
import { djangoAlgorithm, djangoHashBeyondLimits, isSupportedDjangoHash } from '../passwords/django.js'
import { legacyTokenKey } from './simplejwt.js'

/**
 * `import django`: users of a Django deployment (the seeds' custom user model,
 * or Django's own auth_user) carried over with their password hashes as they
 * are, linked by `legacy_id` = Django's id. A re-run updates the users it
 * imported before (same email, same Django id); an account of that email not
 * linked to that Django id is never touched (skipped, listed, counted).
 */

/** One Django user row, as read from any source (values not yet normalised). */
export type DjangoRow = Record<string, unknown>

export interface DjangoSource {
  users: DjangoRow[]
  /** allauth's account_emailaddress rows (user_id, email, verified), when the table exists. */
  emailAddresses?: DjangoRow[]
  /**
   * simplejwt's blacklisted refresh tokens (jti, expires_at, user_id) when its
   * token_blacklist app is installed: logged-out tokens, never to be exchanged.
   */
  blacklisted?: DjangoRow[]
  /** allauth's socialaccount_socialaccount rows (user_id, provider, uid), when the table exists: users who came through Google, Kakao… */
  socialAccounts?: DjangoRow[]
}

const BLACKLIST_QUERY = `SELECT o.jti AS jti, o.expires_at AS expires_at, o.user_id AS user_id
  FROM token_blacklist_outstandingtoken o JOIN token_blacklist_blacklistedtoken b ON b.token_id = o.id`

export class DjangoImportError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'DjangoImportError'
  }
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Reads a Django SQLite database, read-only. */
export async function readDjangoSqlite (path: string, table: string): Promise<DjangoSource> {
  if (!IDENTIFIER.test(table)) throw new DjangoImportError(`--table must be a table name, got "${table}"`)
  const { default: Database } = await import('better-sqlite3')
  let db
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    throw new DjangoImportError(`cannot open ${path}: ${(err as Error).message}`)
  }
  try {
    const has = (name: string): boolean => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined
    if (!has(table)) throw new DjangoImportError(`${path} has no table "${table}" (name the user table with --table)`)
    const users = db.prepare(`SELECT * FROM "${table}" ORDER BY id`).all() as DjangoRow[]
    const emailAddresses = has('account_emailaddress') ? db.prepare('SELECT user_id, email, verified FROM account_emailaddress').all() as DjangoRow[] : undefined
    const blacklisted = has('token_blacklist_blacklistedtoken') ? db.prepare(BLACKLIST_QUERY).all() as DjangoRow[] : undefined
    const socialAccounts = has('socialaccount_socialaccount') ? db.prepare('SELECT user_id, provider, uid FROM socialaccount_socialaccount').all() as DjangoRow[] : undefined
    return { users, ...(emailAddresses === undefined ? {} : { emailAddresses }), ...(blacklisted === undefined ? {} : { blacklisted }), ...(socialAccounts === undefined ? {} : { socialAccounts }) }
  } catch (err) {
    if (err instanceof DjangoImportError) throw err
    throw new DjangoImportError(`cannot read ${path}: ${(err as Error).message}`)
  } finally {
    db.close()
  }
}

/** Reads a Django PostgreSQL database (every column as text, so that dates keep their calendar value). */
export async function readDjangoPostgres (url: string, table: string): Promise<DjangoSource> {
  if (!IDENTIFIER.test(table)) throw new DjangoImportError(`--table must be a table name, got "${table}"`)
  const { default: pg } = await import('pg')
  const { describeUrl } = await import('../db/postgres/errors.js')
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  try {
    await client.connect()
  } catch (err) {
    throw new DjangoImportError(`cannot reach PostgreSQL at ${describeUrl(url)}: ${(err as Error).message}`)
  }
  try {
    // Read-only: nothing in the Django database is changed.
    await client.query('BEGIN READ ONLY')
    const columns = async (name: string): Promise<string[]> => (await client.query<{ column_name: string }>(
      'SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1', [name])).rows.map((r) => r.column_name)
    const userColumns = await columns(table)
    if (userColumns.length === 0) throw new DjangoImportError(`${describeUrl(url)} has no table "${table}" (name the user table with --table)`)
    const select = userColumns.filter((c) => IDENTIFIER.test(c)).map((c) => `"${c}"::text AS "${c}"`).join(', ')
    const users = (await client.query(`SELECT ${select} FROM "${table}" ORDER BY id`)).rows as DjangoRow[]
    const emailAddresses = (await columns('account_emailaddress')).length > 0
      ? (await client.query('SELECT user_id::text AS user_id, email, verified FROM account_emailaddress')).rows as DjangoRow[]
      : undefined
    const blacklisted = (await columns('token_blacklist_blacklistedtoken')).length > 0
      ? (await client.query(BLACKLIST_QUERY.replace('o.expires_at AS', 'o.expires_at::text AS').replace('o.user_id AS', 'o.user_id::text AS'))).rows as DjangoRow[]
      : undefined
    const socialAccounts = (await columns('socialaccount_socialaccount')).length > 0
      ? (await client.query('SELECT user_id::text AS user_id, provider, uid FROM socialaccount_socialaccount')).rows as DjangoRow[]
      : undefined
    await client.query('COMMIT')
    return { users, ...(emailAddresses === undefined ? {} : { emailAddresses }), ...(blacklisted === undefined ? {} : { blacklisted }), ...(socialAccounts === undefined ? {} : { socialAccounts }) }
  } catch (err) {
    if (err instanceof DjangoImportError) throw err
    throw new DjangoImportError(`cannot read ${describeUrl(url)}: ${(err as Error).message}`)
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Reads `manage.py dumpdata` output: the user model's objects (any `<app>.user`
 * model, or the one named by `model`) and allauth's `account.emailaddress`.
 */
export async function readDjangoDumpdata (path: string, model?: string): Promise<DjangoSource> {
  let data: unknown
  try {
    data = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new DjangoImportError(`cannot read ${path} as dumpdata JSON: ${(err as Error).message.split('\n')[0] ?? ''}`)
  }
  if (!Array.isArray(data)) throw new DjangoImportError(`${path} is not dumpdata output (a JSON array of objects)`)
  const objects = data.filter((o): o is { model: string, pk: unknown, fields: Record<string, unknown> } =>
    typeof o === 'object' && o !== null && typeof o.model === 'string' && typeof o.fields === 'object' && o.fields !== null)
  const isUser = (m: string): boolean => model === undefined ? /\.user$/i.test(m) : m.toLowerCase() === model.toLowerCase()
  const users = objects.filter((o) => isUser(o.model)).map((o) => ({ ...o.fields, id: o.pk }))
  if (users.length === 0) throw new DjangoImportError(`${path} holds no ${model ?? '<app>.user'} objects`)
  const addresses = objects.filter((o) => /\.emailaddress$/i.test(o.model)).map((o) => ({ ...o.fields, user_id: o.fields.user }))
  const outstanding = new Map(objects.filter((o) => o.model === 'token_blacklist.outstandingtoken').map((o) => [String(o.pk), o.fields]))
  const blacklisted = objects.filter((o) => o.model === 'token_blacklist.blacklistedtoken')
    .map((o) => outstanding.get(String(o.fields.token))).filter((f) => f !== undefined).map((f) => ({ ...f, user_id: f.user }))
  const socialAccounts = objects.filter((o) => o.model === 'socialaccount.socialaccount').map((o) => ({ ...o.fields, user_id: o.fields.user }))
  return { users, ...(addresses.length > 0 ? { emailAddresses: addresses } : {}), ...(blacklisted.length > 0 ? { blacklisted } : {}), ...(socialAccounts.length > 0 ? { socialAccounts } : {}) }
}

const text = (v: unknown): string => (v === null || v === undefined) ? '' : String(v).trim()

function bool (v: unknown): boolean {
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v !== 0
  return /^(1|t|true|yes)$/i.test(text(v))
}

/** Django datetimes: SQLite text (UTC, no zone), PostgreSQL text (`+00`), dumpdata ISO, or Date. */
function dateTime (v: unknown): Date | null {
  if (v instanceof Date) return v
  let s = text(v)
  if (s === '') return null
  s = s.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(s)) s += 'Z'
  const d = new Date(s)
  return Number.isNaN(d.getTime()) ? null : d
}

function gender (v: unknown): 'male' | 'female' | null {
  const g = text(v).toLowerCase()
  if (g === 'male' || g === 'm') return 'male'
  if (g === 'female' || g === 'f') return 'female'
  return null // Django's '' (not given) and anything else
}

export interface ImportSummary {
  created: number
  updated: number
  /** simplejwt tokens blacklisted in Django (logged out), still unexpired, now refused here too. */
  blacklisted: number
  /** Social accounts (socialaccount_socialaccount) linked to imported users; those present already are not counted. */
  socialAccounts: number
  /** `reason` is one of SKIP_REASONS; `detail` names the case (the username, the hash, the other user). */
  skipped: Array<{ legacyId: string, email: string, reason: string, detail?: string }>
}

/** Why a Django user is not imported. */
export const SKIP_REASONS = {
  noEmail: 'no email address',
  unusablePassword: 'unusable password (no password login in Django)',
  unsupportedHash: 'unsupported password hash',
  /**
   * Costs (iterations, memory, …) beyond what login computes: such a hash could
   * never verify here (src/passwords/django.ts), so the user is listed rather
   * than imported with a password that silently never works.
   */
  costsBeyondLimits: 'password hash costs beyond the limits',
  duplicateEmail: 'same email as an earlier Django user',
  legacyIdTaken: 'Django id already linked to another user',
  /**
   * An account of this service has that email but is not this Django user's
   * (it joined here, or came from another Django id): it is never merged into,
   * re-activated or marked verified.
   */
  emailTaken: 'email already used by an account not linked to this Django user'
} as const

type Skip = { skip: string, detail?: string, email: string }

/**
 * One row → the user to store, or why it is skipped. `social`: the user has
 * social accounts, so an unusable password (allauth's sign-up through a
 * provider) is no reason to skip it: it keeps that unusable hash, and logs in
 * through its provider (or sets a password with a reset).
 */
export function toImportedUser (row: DjangoRow, verified: Set<string>, social = false): ImportedUser | Skip {
  const legacyId = text(row.id)
  const email = normalizeEmail(text(row.email) !== '' ? text(row.email) : text(row.username))
  if (!isEmailAddress(email)) return { skip: SKIP_REASONS.noEmail, ...(email === '' ? {} : { detail: `username "${email}"` }), email }
  const given = text(row.password)
  const unusable = given === '' || given.startsWith('!')
  if (unusable && !social) return { skip: SKIP_REASONS.unusablePassword, email }
  const passwordHash = unusable ? (given === '' ? unusablePassword() : given) : given
  if (!unusable && !isSupportedDjangoHash(passwordHash)) return { skip: SKIP_REASONS.unsupportedHash, detail: djangoAlgorithm(passwordHash) ?? passwordHash.split('$')[0] ?? '', email }
  const beyond = unusable ? undefined : djangoHashBeyondLimits(passwordHash)
  if (beyond !== undefined) return { skip: SKIP_REASONS.costsBeyondLimits, detail: beyond, email }
  const dob = text(row.date_of_birth)
  const name = 'name' in row ? text(row.name) : `${text(row.first_name)} ${text(row.last_name)}`.trim()
  return {
    id: randomUUID(),
    legacyId,
    email,
    passwordHash,
    name,
    gender: gender(row.gender),
    dateOfBirth: /^\d{4}-\d{2}-\d{2}$/.test(dob) ? dob : null,
    phoneNumber: text(row.phone_number) === '' ? null : text(row.phone_number),
    isActive: bool(row.is_active ?? true),
    isStaff: bool(row.is_staff),
    isSuperuser: bool(row.is_superuser),
    emailVerified: verified.has(`${legacyId} ${email}`),
    dateJoined: dateTime(row.date_joined) ?? new Date(),
    lastLogin: dateTime(row.last_login)
  }
}

/** Upserts every importable user, in transactions of `batchSize`; never touches the source. */
export async function importDjangoUsers (store: Store, source: DjangoSource, batchSize = 500): Promise<ImportSummary> {
  const verified = new Set((source.emailAddresses ?? []).filter((a) => bool(a.verified)).map((a) => `${text(a.user_id)} ${normalizeEmail(text(a.email))}`))
  const summary: ImportSummary = { created: 0, updated: 0, blacklisted: 0, socialAccounts: 0, skipped: [] }
  const withSocial = new Set((source.socialAccounts ?? []).map((a) => text(a.user_id)))
  const seen = new Map<string, string>()
  const ready: ImportedUser[] = []
  for (const row of source.users) {
    const legacyId = text(row.id)
    const user = toImportedUser(row, verified, withSocial.has(legacyId))
    if ('skip' in user) {
      summary.skipped.push({ legacyId, email: user.email, reason: user.skip, ...(user.detail === undefined ? {} : { detail: user.detail }) })
      continue
    }
    const first = seen.get(user.email)
    if (first !== undefined) {
      summary.skipped.push({ legacyId, email: user.email, reason: SKIP_REASONS.duplicateEmail, detail: `Django user ${first}` })
      continue
    }
    seen.set(user.email, legacyId)
    ready.push(user)
  }
  // A user who has logged in here has an argon2id hash, which a re-import keeps.
  const isDjangoHash = (hash: string): boolean => djangoAlgorithm(hash) !== undefined
  for (let i = 0; i < ready.length; i += batchSize) {
    const batch = ready.slice(i, i + batchSize)
    const outcomes = await store.users.importMany(batch, isDjangoHash)
    outcomes.forEach((outcome, j) => {
      const user = batch[j] as ImportedUser
      if (outcome === 'created') summary.created++
      else if (outcome === 'updated') summary.updated++
      else if (outcome === 'email_taken') summary.skipped.push({ legacyId: user.legacyId, email: user.email, reason: SKIP_REASONS.emailTaken })
      else summary.skipped.push({ legacyId: user.legacyId, email: user.email, reason: SKIP_REASONS.legacyIdTaken })
    })
  }
  // Social accounts follow their users (by Django id): the same provider
  // account signs in to the same user here. Provider names are allauth's
  // (google, kakao, apple, github, naver…), as SOCIAL_PROVIDERS names them.
  const identities = []
  for (const row of source.socialAccounts ?? []) {
    const provider = text(row.provider).toLowerCase()
    const subject = text(row.uid)
    if (!/^[a-z0-9-]{1,32}$/.test(provider) || subject === '') continue
    const user = await store.users.byLegacyId(text(row.user_id))
    if (user === undefined) continue
    identities.push({ id: randomUUID(), userId: user.id, provider, subject, email: '', createdAt: Math.floor(user.dateJoined.getTime() / 1000) })
  }
  for (let i = 0; i < identities.length; i += batchSize) summary.socialAccounts += await store.socialIdentities.importMany(identities.slice(i, i + batchSize))

  // A token logged out in Django must not become usable here: each is recorded
  // as used (SIMPLEJWT_COMPAT then refuses it), whether or not compat is on yet.
  const nowSeconds = Math.floor(Date.now() / 1000)
  for (const row of source.blacklisted ?? []) {
    const jti = text(row.jti)
    const exp = Math.floor((dateTime(row.expires_at)?.getTime() ?? 0) / 1000)
    if (jti === '' || exp <= nowSeconds || text(row.user_id) === '') continue
    const user = await store.users.byLegacyId(text(row.user_id))
    if (user === undefined) continue
    await store.legacyTokens.retire(legacyTokenKey(jti), user.id, exp)
    summary.blacklisted++
  }
  return summary
}
