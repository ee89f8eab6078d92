import t from 'tap'
import { publicUser } from '../../src/accounts/accounts.js'
import type { User } from '../../src/db/store.js'

// publicUser (src/accounts/accounts.ts): a remembered (frozen) row is shown once.

const row = (over: Partial<User> = {}): User => ({
  id: 'u1',
  email: 'ana@example.com',
  passwordHash: 'argon2id$secret',
  name: 'Ana',
  gender: null,
  dateOfBirth: null,
  phoneNumber: null,
  dateJoined: new Date('2026-01-02T03:04:05.000Z'),
  lastLogin: null,
  isActive: true,
  isStaff: false,
  isSuperuser: false,
  emailVerified: false,
  legacyId: null,
  ...over
} as User)

t.test('the shown user: the contract\'s fields, never the hash', async (t) => {
  const view = publicUser(row({ lastLogin: new Date('2026-02-03T04:05:06.000Z') }))
  t.same(view, {
    id: 'u1',
    email: 'ana@example.com',
    name: 'Ana',
    gender: null,
    date_of_birth: null,
    phone_number: null,
    date_joined: '2026-01-02T03:04:05.000Z',
    last_login: '2026-02-03T04:05:06.000Z',
    email_verified: false
  })
  t.notOk(JSON.stringify(view).includes('secret'))
})

t.test('a frozen (remembered) row is shown once; a changed row, read again, is shown anew', async (t) => {
  const remembered = Object.freeze(row())
  const first = publicUser(remembered)
  t.equal(publicUser(remembered), first, 'the same view for every request of that row')
  t.ok(Object.isFrozen(first), 'shared, so frozen')
  const changed = Object.freeze(row({ name: 'Ann', emailVerified: true }))
  t.match(publicUser(changed), { name: 'Ann', email_verified: true }, 'a new row (after a write) is a new view')
  const loose = row()
  t.not(publicUser(loose), publicUser(loose), 'a row that may still change is shown each time')
})
