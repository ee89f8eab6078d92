import t from 'tap'
import { keyInsertion } from '../../src/db/signing-key-insertion.js'

/*
 * The rule of Store.signingKeys.add, on its own. Both stores applying it
 * (instances starting at once included) is proven by test/keys/keyring.test.ts.
 */

const key = { createdAt: 1_800_000_000 }

t.test('a new kid is stored, and the key that signed retires at its creation', async (t) => {
  t.same(keyInsertion(key, { kidTaken: false, someKeySigns: true }, false), { add: true, retireSigningAt: key.createdAt }, 'a rotation')
  t.same(keyInsertion(key, { kidTaken: false, someKeySigns: false }, false), { add: true, retireSigningAt: key.createdAt }, 'the first key')
  t.same(keyInsertion(key, { kidTaken: false, someKeySigns: false }, true), { add: true, retireSigningAt: key.createdAt }, 'the first key, only if none')
})

t.test('never over an existing kid', async (t) => {
  for (const someKeySigns of [false, true]) {
    for (const onlyIfNone of [false, true]) t.same(keyInsertion(key, { kidTaken: true, someKeySigns }, onlyIfNone), { add: false })
  }
})

t.test('only if none: not while some key signs (one of several starting instances wins)', async (t) => {
  t.same(keyInsertion(key, { kidTaken: false, someKeySigns: true }, true), { add: false })
})
