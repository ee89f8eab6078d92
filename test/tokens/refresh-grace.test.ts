import { hkdfSync, randomUUID } from 'node:crypto'
import t from 'tap'
import { keyFor, openSuccessor, sealSuccessor } from '../../src/tokens/refresh-grace.js'

t.test('the sealing key is RFC 5869 HKDF-SHA256 of the jti (the bytes hkdfSync gives), so rows sealed earlier still open', async (t) => {
  const info = Buffer.from('auth-service refresh successor v1')
  for (let i = 0; i < 50; i++) {
    const jti = randomUUID()
    t.same(keyFor(jti), Buffer.from(hkdfSync('sha256', jti, Buffer.alloc(0), info, 32)), `jti ${i}`)
  }
})

t.test('a sealed successor opens only with its jti and its two rows; IVs never repeat', async (t) => {
  const jti = randomUUID()
  const sealed = sealSuccessor(jti, 'pred', 'succ', 'the.successor.token')
  t.equal(openSuccessor(jti, 'pred', 'succ', sealed), 'the.successor.token')
  t.equal(openSuccessor(randomUUID(), 'pred', 'succ', sealed), undefined, 'another jti')
  t.equal(openSuccessor(jti, 'pred', 'other', sealed), undefined, 'another row')
  t.notMatch(sealed, /successor/, 'nothing in clear')
  const ivs = new Set<string>()
  // Over a refill of the IV pool (256 per refill).
  for (let i = 0; i < 600; i++) ivs.add(Buffer.from(sealSuccessor(jti, 'p', 's', 'x'), 'base64url').subarray(0, 12).toString('hex'))
  t.equal(ivs.size, 600, 'every seal has its own IV')
})
