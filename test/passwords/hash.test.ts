import t from 'tap'
import { createPasswordHasher, defaultHashConcurrency, limitConcurrency } from '../../src/passwords/hash.js'

/** A task that stays pending until released, recording how many run at once. */
function gate (state: { active: number, peak: number, order: number[] }, id: number) {
  let release!: () => void
  let fail!: (err: Error) => void
  const done = new Promise<void>((resolve, reject) => { release = resolve; fail = reject })
  let started = false
  const task = async (): Promise<number> => {
    started = true
    state.active++
    state.peak = Math.max(state.peak, state.active)
    state.order.push(id)
    try {
      await done
      return id
    } finally {
      state.active--
    }
  }
  return { task, release: () => release(), fail: (err: Error) => fail(err), started: () => started }
}

const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

t.test('limitConcurrency runs at most max tasks at once, the others in arrival order', async (t) => {
  const state = { active: 0, peak: 0, order: [] as number[] }
  const limit = limitConcurrency(2)
  const gates = [0, 1, 2, 3, 4].map((id) => gate(state, id))
  // Settled as a whole up front, so the rejection below is handled.
  const settled = Promise.allSettled(gates.map((g) => limit(g.task)))
  await tick()
  t.same(gates.map((g) => g.started()), [true, true, false, false, false], 'two start, three wait')
  gates[1]?.release()
  await tick()
  t.same(gates.map((g) => g.started()), [true, true, true, false, false], 'a finished task hands its slot to the first waiting one')
  gates[0]?.fail(new Error('boom'))
  await tick()
  t.ok(gates[3]?.started(), 'a failed task releases its slot too')
  gates[2]?.release(); gates[3]?.release()
  await tick()
  gates[4]?.release()
  t.same((await settled).map((s) => s.status), ['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'])
  t.equal(state.peak, 2, 'never more than two at once')
  t.same(state.order, [0, 1, 2, 3, 4], 'started in arrival order')
  // The limiter is free again: a new task starts at once.
  const again = gate(state, 5)
  const last = limit(again.task)
  await tick()
  t.ok(again.started())
  again.release()
  t.equal(await last, 5)
})

t.test('default hash concurrency leaves a core to the event loop, at most 3', async (t) => {
  t.equal(defaultHashConcurrency(1), 1)
  t.equal(defaultHashConcurrency(2), 1)
  t.equal(defaultHashConcurrency(3), 2)
  t.equal(defaultHashConcurrency(4), 3)
  t.equal(defaultHashConcurrency(64), 3)
})

t.test('a limited hasher still hashes and verifies correctly under concurrent use', async (t) => {
  const hasher = createPasswordHasher({ memoryCost: 1024, timeCost: 2, parallelism: 1 }, 1)
  const stored = await hasher.hash('correct-Horse-battery-9')
  t.match(stored, /^\$argon2id\$v=19\$m=1024,t=2,p=1\$/)
  const answers = await Promise.all([
    hasher.verify(stored, 'correct-Horse-battery-9'),
    hasher.verify(stored, 'wrong-Horse-battery-9'),
    hasher.verify('not a hash', 'correct-Horse-battery-9'),
    hasher.verifyDecoy('correct-Horse-battery-9'),
    hasher.verify(stored, 'correct-Horse-battery-9')
  ])
  t.same(answers, [true, false, false, false, true])
})
