import t from 'tap'
import { pooledRandomBytes } from '../../src/crypto/random.js'

t.test('pooled random bytes: the size asked for, never the same bytes twice, across refills', async (t) => {
  const seen = new Set<string>()
  for (let i = 0; i < 2000; i++) { // 2000 × 32 bytes: the 4 KiB pool is refilled 15 times
    const bytes = pooledRandomBytes(32)
    t.equal(bytes.length, 32)
    seen.add(bytes.toString('hex'))
  }
  t.equal(seen.size, 2000, 'all distinct')
  const large = pooledRandomBytes(10_000)
  t.equal(large.length, 10_000, 'more than a pool: its own call')
  t.not(large.toString('hex'), Buffer.alloc(10_000).toString('hex'))
  const a = pooledRandomBytes(12)
  const copy = Buffer.from(a)
  pooledRandomBytes(12)
  t.same(a, copy, 'a slice is not overwritten by the next one')
})
