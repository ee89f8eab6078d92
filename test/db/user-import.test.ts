import t from 'tap'
import type { ImportedUser } from '../../src/db/store.js'
import { importStep } from '../../src/db/user-import.js'

/*
 * The rule of Store.users.importMany for one row, on its own. Both stores
 * applying it is proven by test/db/operators.test.ts and the Django import's
 * tests.
 */

const row: ImportedUser = {
  id: 'new-id',
  email: 'ana@example.com',
  passwordHash: 'pbkdf2_sha256$870000$salt$hash',
  name: 'Ana',
  gender: null,
  dateOfBirth: null,
  phoneNumber: null,
  dateJoined: new Date(Date.UTC(2020, 0, 1)),
  lastLogin: null,
  isActive: true,
  isStaff: false,
  isSuperuser: false,
  emailVerified: true,
  legacyId: '7'
}
const { id: _id, email: _email, passwordHash, ...fields } = row
const isDjangoHash = (hash: string): boolean => hash.startsWith('pbkdf2_')

t.test('a new email whose Django id nobody holds: created', async (t) => {
  t.same(importStep(row, undefined, undefined, isDjangoHash), { outcome: 'created' })
})

t.test('the same Django user imported again: updated in place, under its own id', async (t) => {
  t.same(importStep(row, { id: 'u1', passwordHash: 'pbkdf2_sha256$1$old$old' }, { id: 'u1' }, isDjangoHash),
    { outcome: 'updated', id: 'u1', change: { ...fields, passwordHash } }, 'a Django hash is replaced by the imported one')
  t.same(importStep(row, { id: 'u1', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$x$y' }, { id: 'u1' }, isDjangoHash),
    { outcome: 'updated', id: 'u1', change: fields }, 'a hash re-hashed by a login here is kept')
})

t.test('an existing email not linked to this Django id: never merged into', async (t) => {
  t.same(importStep(row, { id: 'u1', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$x$y' }, undefined, isDjangoHash),
    { outcome: 'email_taken' }, 'an account that joined here')
  t.same(importStep(row, { id: 'u1', passwordHash: 'pbkdf2_sha256$1$old$old' }, undefined, isDjangoHash),
    { outcome: 'email_taken' }, 'even one with a Django hash (another Django id changed to this email)')
})

t.test('a Django id held by another user than the one with this email: refused', async (t) => {
  t.same(importStep(row, undefined, { id: 'u2' }, isDjangoHash), { outcome: 'legacy_id_taken' }, 'a new email')
  t.same(importStep(row, { id: 'u1', passwordHash: 'x' }, { id: 'u2' }, isDjangoHash), { outcome: 'legacy_id_taken' }, 'an existing email')
})
