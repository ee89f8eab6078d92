import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/app.js'
import { Client } from '../helpers/http.js'
import { logRecords, startTestServer } from '../helpers/server.js'

/*
 * The log is written asynchronously (src/log.ts): lines wait in a buffer and
 * are written in batches. Under heavy load, whatever ends the process — a
 * SIGTERM or an exception nothing catches — every request that got an answer
 * must have exactly one request line in the output.
 */

const PASSWORD = 'log-flush-Test-passw0rd-7'
const preload = join(import.meta.dirname, '..', 'helpers', 'throw-on-sigwinch.mjs')

async function underLoad (t: Parameters<typeof tempDir>[0], stop: 'SIGTERM' | 'SIGWINCH'): Promise<void> {
  const server = await startTestServer(t, { DATABASE_URL: join(tempDir(t), 'auth.db'), SHUTDOWN_GRACE: '20' }, { nodeArgs: ['--import', preload] })
  const client = new Client(server.url, 32)
  t.teardown(() => client.close())
  const joined = await client.post('/account/join', { email: 'flush@example.com', password: PASSWORD })
  if (joined.status !== 201) throw new Error(`setup join: ${joined.status} ${joined.body}`)
  const access = joined.json.access as string

  const answered: Array<{ id: unknown, status: number }> = []
  let failedBeforeStop = 0
  let stopped = false
  const loop = async (i: number): Promise<void> => {
    for (let n = 0; ; n++) {
      try {
        const res = (i + n) % 2 === 0
          ? await client.get('/health', { 'x-request-id': `load-${i}-${n}` })
          : await client.get('/account/mypage', { authorization: `Bearer ${access}`, 'x-request-id': `load-${i}-${n}` })
        answered.push({ id: res.headers['x-request-id'], status: res.status })
      } catch {
        if (!stopped) failedBeforeStop++
        return // the server stopped listening
      }
    }
  }
  const running = Array.from({ length: 32 }, async (_, i) => { await loop(i) })
  // Enough load that many lines are waiting in the buffer when the stop comes.
  while (answered.length < 3000 && failedBeforeStop === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  stopped = true
  server.child.kill(stop)
  const { code } = await server.exited
  await Promise.all(running)

  t.equal(failedBeforeStop, 0, 'no request failed before the stop')
  t.equal(code, stop === 'SIGTERM' ? 0 : 1, `exit code ${stop === 'SIGTERM' ? 0 : 1}`)
  const records = logRecords(server.lines)
  const lines = new Map<unknown, number>()
  for (const r of records) if (r.msg === 'request') lines.set(r.reqId, (lines.get(r.reqId) ?? 0) + 1)
  t.same([...lines].filter(([, n]) => n !== 1), [], 'no request has two lines')
  const missing = answered.filter((a) => lines.get(a.id) !== 1)
  t.same(missing.slice(0, 5), [], `each of the ${answered.length} answered requests has its line (${missing.length} missing)`)
  t.equal(lines.size, answered.length + 1, 'as many request lines as answers (and the setup join)')
  t.ok(answered.length >= 3000, `the load was heavy (${answered.length} answers)`)
  if (stop === 'SIGWINCH') t.ok(records.some((r) => r.msg === 'shutting down after an error'), 'the exception was logged', { tail: server.lines.filter((l) => !l.includes('"msg":"request"')).slice(-10) })
  else t.ok(records.some((r) => r.msg === 'shutting down' && r.signal === 'SIGTERM'), 'the shutdown was logged')
}

t.test('SIGTERM under load: every answered request has exactly one line', async (t) => {
  await underLoad(t, 'SIGTERM')
})

t.test('an uncaught exception under load: the process exits 1 and no line is lost', async (t) => {
  await underLoad(t, 'SIGWINCH')
})
