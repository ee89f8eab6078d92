import t from 'tap'
import { BoundedCache, TURNOVER_MS } from '../src/bounded-cache.js'

/*
 * The bounded cache of verified tokens and users (src/bounded-cache.ts):
 * first in, first out, and a full cache takes a newcomer only in place of an
 * oldest entry that has aged out, so that a working set larger than the cache
 * does not replace an entry on every miss.
 */

function clocked (max: number, turnoverMs = 1000): { cache: BoundedCache<string>, advance: (ms: number) => void } {
  let now = 1_000_000
  const cache = new BoundedCache<string>(max, turnoverMs, () => now)
  return { cache, advance: (ms) => { now += ms } }
}

t.test('remembers, forgets, empties', async (t) => {
  const { cache } = clocked(3)
  t.ok(cache.set('a', 'A'))
  t.ok(cache.set('b', 'B'))
  t.equal(cache.get('a'), 'A')
  t.equal(cache.get('z'), undefined)
  t.equal(cache.size, 2)
  cache.delete('a')
  t.equal(cache.get('a'), undefined)
  t.equal(cache.get('b'), 'B')
  cache.clear()
  t.equal(cache.size, 0)
  t.equal(cache.get('b'), undefined)
  t.ok(cache.set('c', 'C'), 'usable after clear')
  t.equal(cache.get('c'), 'C')
})

t.test('full: a newcomer is refused while the oldest entry is younger than the turnover', async (t) => {
  const { cache, advance } = clocked(2, 1000)
  cache.set('a', 'A')
  advance(10)
  cache.set('b', 'B')
  advance(500)
  t.notOk(cache.set('c', 'C'), 'refused')
  t.equal(cache.get('c'), undefined)
  t.same([cache.get('a'), cache.get('b')], ['A', 'B'], 'the working set kept whole')
  advance(490)
  t.ok(cache.set('c', 'C'), 'taken once the oldest has aged out')
  t.equal(cache.get('a'), undefined, 'in place of the oldest')
  t.same([cache.get('b'), cache.get('c')], ['B', 'C'])
  t.notOk(cache.set('d', 'D'), 'b is 1000 ms old only at +1010')
  advance(10)
  t.ok(cache.set('d', 'D'))
  t.equal(cache.get('b'), undefined, 'first in, first out')
  t.equal(cache.size, 2, 'never more than max')
})

t.test('a hit reorders nothing: the oldest stays the first to leave', async (t) => {
  const { cache, advance } = clocked(2, 100)
  cache.set('a', 'A')
  cache.set('b', 'B')
  advance(100)
  for (let i = 0; i < 5; i++) cache.get('a')
  t.ok(cache.set('c', 'C'))
  t.equal(cache.get('a'), undefined)
  t.equal(cache.get('b'), 'B')
})

t.test('expiry: an expired entry is never returned, and is replaceable at once', async (t) => {
  const { cache, advance } = clocked(2, 60_000)
  cache.set('a', 'A', 1_000_050)
  cache.set('b', 'B')
  t.equal(cache.get('a'), 'A')
  advance(49)
  t.equal(cache.get('a'), 'A', 'until its instant')
  advance(1)
  t.equal(cache.get('a'), undefined, 'not at it')
  t.equal(cache.size, 1, 'and dropped')
  cache.set('c', 'C', 1_000_100)
  t.notOk(cache.set('d', 'D'), 'full, b young')
  cache.delete('b')
  t.ok(cache.set('d', 'D'))
  t.notOk(cache.set('e', 'E'), 'full again: c leaves at its expiry, not before')
  advance(50)
  t.ok(cache.set('e', 'E'), 'c expired: replaced before the turnover')
  t.same([cache.get('c'), cache.get('d'), cache.get('e')], [undefined, 'D', 'E'])
})

t.test('setting a known key replaces its value and makes it the newest', async (t) => {
  const { cache, advance } = clocked(2, 100)
  cache.set('a', 'A')
  cache.set('b', 'B')
  advance(100)
  t.ok(cache.set('a', 'A2'), 'a known key is always taken')
  t.equal(cache.get('a'), 'A2')
  t.ok(cache.set('c', 'C'), 'b is now the oldest, and aged')
  t.equal(cache.get('b'), undefined)
  t.same([cache.get('a'), cache.get('c')], ['A2', 'C'])
})

t.test('entries removed from the middle keep the order of the others', async (t) => {
  const { cache, advance } = clocked(4, 100)
  for (const k of ['a', 'b', 'c', 'd']) cache.set(k, k.toUpperCase())
  cache.delete('b')
  cache.delete('d')
  cache.set('e', 'E')
  cache.set('f', 'F')
  advance(100)
  const left: string[] = []
  for (const k of ['g', 'h', 'i', 'j']) {
    t.ok(cache.set(k, k.toUpperCase()))
    left.push(['a', 'c', 'e', 'f'].filter((x) => cache.get(x) === undefined).join(''))
  }
  t.same(left, ['a', 'ac', 'ace', 'acef'], 'a, c, e, f leave in the order they came')
})

t.test('max 0 remembers nothing; the default turnover is a minute', async (t) => {
  const none = new BoundedCache<string>(0)
  t.notOk(none.set('a', 'A'))
  t.equal(none.get('a'), undefined)
  t.equal(TURNOVER_MS, 60_000)
  t.equal(new BoundedCache<string>(1).turnoverMs, TURNOVER_MS)
})

t.test('a working set larger than the cache: hits in proportion, at most max replacements per turnover', async (t) => {
  const { cache, advance } = clocked(100, 1000)
  let hits = 0
  let taken = 0
  // 1,000 keys in turn, 10 passes, 1 ms a lookup: 10 s, so 10 turnovers.
  for (let pass = 0; pass < 10; pass++) {
    for (let k = 0; k < 1000; k++) {
      const key = String(k)
      if (cache.get(key) !== undefined) hits++
      else if (cache.set(key, key)) taken++
      advance(1)
    }
  }
  t.ok(taken <= 100 * 11, `${taken} entries taken: at most max per turnover`)
  t.ok(hits >= 500, `${hits} hits of 10,000 lookups: about max ÷ working set`)
})
