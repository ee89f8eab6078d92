import type { ImportedUser, ImportOutcome } from './store.js'

/** The fields an import changes on a user it finds by email (not the id, nor the email it was found by). */
export type ImportChange = Omit<ImportedUser, 'id' | 'email' | 'passwordHash'> & { passwordHash?: string }

export type ImportStep =
  | { outcome: Extract<ImportOutcome, 'legacy_id_taken' | 'email_taken'> }
  | { outcome: Extract<ImportOutcome, 'created'> }
  | { outcome: Extract<ImportOutcome, 'updated'>, id: string, change: ImportChange }

/**
 * What Store.users.importMany does with one imported user, from what the
 * store found in its transaction: the user with that email, and the user
 * holding that Django id. Both stores apply it, row by row.
 *
 * The Django id links simplejwt tokens to their user, so it may belong to one
 * user only: held by another user than the one with this email, the row is
 * refused (`legacy_id_taken`). An account with this email that is not linked to
 * this Django id (one that joined here, or another Django user's) is never
 * merged into, re-activated or marked verified: the row is refused
 * (`email_taken`), else whoever controls the Django row would take over an
 * account of this service. Otherwise the user is created, or — the same Django
 * user imported again — updated in place; its password hash is replaced only
 * while it is still a foreign one (`isForeignHash`: a Django hash not yet
 * re-hashed by a login here), so that importing again never undoes a login's
 * re-hash.
 */
export function importStep (row: ImportedUser, byEmail: { id: string, passwordHash: string } | undefined, byLegacyId: { id: string } | undefined,
  isForeignHash: (hash: string) => boolean): ImportStep {
  if (byLegacyId !== undefined && byLegacyId.id !== byEmail?.id) return { outcome: 'legacy_id_taken' }
  if (byEmail === undefined) return { outcome: 'created' }
  if (byLegacyId === undefined) return { outcome: 'email_taken' }
  const { id: _id, email: _email, passwordHash, ...fields } = row
  return { outcome: 'updated', id: byEmail.id, change: isForeignHash(byEmail.passwordHash) ? { ...fields, passwordHash } : fields }
}
