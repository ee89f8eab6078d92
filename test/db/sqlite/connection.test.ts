import { join } from 'node:path'
import t from 'tap'
import { openDatabase, PAGE_CACHE_KIB } from '../../../src/db/sqlite/connection.js'
import { tempDir } from '../../helpers/app.js'

// The connection's tuning (src/db/sqlite/connection.ts): WAL, and SQLite's own
// default page cache rather than better-sqlite3's 16 MB, which was the largest
// native share of the process's memory under a load test with many users.

t.test('a connection uses WAL and a page cache of SQLite\'s default size', async (t) => {
  const { sqlite } = openDatabase({ path: join(tempDir(t), 'auth.db'), synchronous: 'full' })
  t.teardown(() => sqlite.close())
  t.equal(PAGE_CACHE_KIB, -2000, '2,000 KiB')
  t.equal(sqlite.pragma('cache_size', { simple: true }), PAGE_CACHE_KIB)
  t.equal(sqlite.pragma('journal_mode', { simple: true }), 'wal')
})
