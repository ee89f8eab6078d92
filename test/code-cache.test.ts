import { spawnSync } from 'node:child_process'
import { appendFileSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { tempDir } from './helper.js'
import { childEnv } from './process-helper.js'

// src/code-cache.ts loads a CommonJS file with V8's code cache (the built
// service's bundle of packages). Each case runs in its own process, as a start
// does: a file is loaded once per process.

const root = join(import.meta.dirname, '..')

interface Outcome { state: string, sum: number, dirname: string, filename: string, join: string, version: number, unused: unknown[], saved: string[] }

function setUp (t: Test): { dir: string, run: (flags?: string[], save?: boolean) => Outcome } {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'mod.cjs'), `'use strict'
const { join } = require('node:path')
module.exports = { add (a, b) { return a + b }, dirname: __dirname, filename: __filename, join: join('a', 'b'), version: 1 }
`)
  const runner = join(dir, 'runner.mjs')
  writeFileSync(runner, `import { codeCacheState, requireWithCodeCache, saveCodeCaches, unusedCodeCaches } from ${JSON.stringify(pathToFileURL(join(root, 'src', 'code-cache.ts')).href)}
const url = new URL('./mod.cjs', import.meta.url)
const m = requireWithCodeCache(url)
const again = requireWithCodeCache(url)
if (again !== m) throw new Error('loaded twice')
const saved = process.argv[2] === 'save' ? saveCodeCaches() : []
console.log(JSON.stringify({ state: codeCacheState(url), sum: m.add(2, 3), dirname: m.dirname, filename: m.filename, join: m.join, version: m.version, unused: unusedCodeCaches(), saved }))
`)
  const run = (flags: string[] = [], save = false): Outcome => {
    const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', runner, ...(save ? ['save'] : [])], { cwd: root, env: childEnv(), encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`runner failed: ${r.stderr}`)
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Outcome
  }
  return { dir, run }
}

t.test('a file loads without a cache, its cache is made, and the next load uses it', async (t) => {
  const { dir, run } = setUp(t)
  const file = join(dir, 'mod.cjs')
  const first = run([], true)
  t.match(first, { state: 'absent', sum: 5, dirname: dir, filename: file, join: join('a', 'b'), version: 1 }, 'without a cache: the module runs as Node would run it (its own __dirname, __filename and require)')
  t.same(first.unused, [{ file, state: 'absent' }], 'and is reported as started without one')
  t.same(first.saved, [`${file}.v8cache`], 'the cache is written beside the file')
  const cache = readFileSync(`${file}.v8cache`)
  const { size, mtimeMs } = statSync(file)
  t.equal(cache.subarray(0, cache.indexOf(10)).toString(), JSON.stringify({ size, mtimeMs }), 'its first line names the file it was made from')
  t.ok(cache.length > 200, `then V8's code (${cache.length} bytes)`)
  t.equal(statSync(`${file}.v8cache`).mode & 0o777, 0o644, 'readable by all, like the compiled files (it holds code, no secret)')

  const second = run()
  t.match(second, { state: 'accepted', sum: 5, dirname: dir, filename: file, version: 1 }, 'the next process uses the cache, and the module works the same')
  t.same(second.unused, [], 'nothing reported')
})

t.test('a cache that does not fit is not used, and the module runs all the same', async (t) => {
  const { dir, run } = setUp(t)
  const file = join(dir, 'mod.cjs')
  run([], true)
  t.match(run(['--max-semi-space-size=8']), { state: 'rejected', sum: 5, version: 1, unused: [{ file, state: 'rejected' }] }, 'made with other V8 flags: V8 refuses it')

  const full = readFileSync(`${file}.v8cache`)
  writeFileSync(`${file}.v8cache`, full.subarray(0, full.indexOf(10) + 1 + Math.floor((full.length - full.indexOf(10)) / 2)))
  t.match(run(), { state: 'rejected', sum: 5 }, 'cut in half (a write that did not finish): refused')
  truncateSync(`${file}.v8cache`, 10)
  t.match(run(), { state: 'stale', sum: 5 }, 'not even its first line: refused')

  run([], true)
  appendFileSync(file, 'module.exports.version = 2\n')
  t.match(run(), { state: 'stale', sum: 5, version: 2, unused: [{ file, state: 'stale' }] }, 'the file changed since the cache was made: the new file runs, not the cached code')
})
