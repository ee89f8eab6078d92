import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Script } from 'node:vm'

/**
 * Loading a CommonJS file with V8's code cache: the built service's bundle of
 * third-party packages (dist/src/vendor/vendor.cjs, see scripts/bundle-vendor.mjs)
 * is compiled once, at build time, and its start reads V8's compiled code
 * instead of parsing and compiling 2.8 MB of JavaScript again. Node 22 does
 * this for every module (`module.enableCompileCache()`); Node 20 has only the
 * `vm` API, which this file uses the way Node's own CommonJS loader does.
 *
 * The cache file starts with one line naming the bundle it was made from (its
 * size and modification time): a bundle rebuilt since is compiled as if there
 * were no cache. V8 itself refuses a cache made by another V8 version or with
 * other flags (`cachedDataRejected`); the file is then compiled as usual. A
 * cache never changes what runs, only how long the start takes.
 */

export type CacheState = 'accepted' | 'rejected' | 'stale' | 'absent'

interface Loaded {
  script: Script
  exports: unknown
  state: CacheState
}

/** What requireWithCodeCache has loaded, by file. */
const loaded = new Map<string, Loaded>()

/** Where the code cache of `file` is kept. */
const cacheFileOf = (file: string): string => `${file}.v8cache`

/** The line that says which bundle a cache was made from. */
function stamp (file: string): string {
  const { size, mtimeMs } = statSync(file)
  return JSON.stringify({ size, mtimeMs })
}

/** The cache's compiled code, when it was made from `file` as it is now. */
function readCache (file: string, cacheFile: string): { data?: Buffer, state: CacheState } {
  let content: Buffer
  try {
    content = readFileSync(cacheFile)
  } catch {
    return { state: 'absent' }
  }
  const newline = content.indexOf(10)
  if (newline < 0 || content.subarray(0, newline).toString() !== stamp(file)) return { state: 'stale' }
  return { data: content.subarray(newline + 1), state: 'accepted' }
}

/**
 * The exports of the CommonJS file at `url`, compiled with the code cache at
 * `url` + `.v8cache` when there is a valid one. Loaded once per process.
 */
export function requireWithCodeCache (url: URL): unknown {
  const file = fileURLToPath(url)
  const done = loaded.get(file)
  if (done !== undefined) return done.exports
  const cache = readCache(file, cacheFileOf(file))
  // Node's own wrapper for a CommonJS module, so that the file sees the
  // variables it would see if Node had required it.
  const source = `(function (exports, require, module, __filename, __dirname) { ${readFileSync(file, 'utf8')}\n})`
  // No import() in the file: Node 20 cannot give one to code run from a
  // cache (its importModuleDynamically is lost with the cached code).
  const script = new Script(source, { filename: file, ...(cache.data === undefined ? {} : { cachedData: cache.data }) })
  const state: CacheState = cache.data !== undefined && script.cachedDataRejected === true ? 'rejected' : cache.state
  const module = { exports: {} as unknown }
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file))
  loaded.set(file, { script, exports: module.exports, state })
  return module.exports
}

/** Whether the file at `url` was loaded with its code cache (tests, the build's check). */
export function codeCacheState (url: URL): CacheState | undefined {
  return loaded.get(fileURLToPath(url))?.state
}

/** The files loaded so far without their code cache, and why (the start's warning). */
export function unusedCodeCaches (): Array<{ file: string, state: Exclude<CacheState, 'accepted'> }> {
  return [...loaded].flatMap(([file, { state }]) => state === 'accepted' ? [] : [{ file, state }])
}

/** Why a code cache was not used, in words. */
export const UNUSED_BECAUSE: Record<Exclude<CacheState, 'accepted'>, string> = {
  absent: 'there is none',
  stale: 'the file was rebuilt since',
  rejected: 'made by another Node version or with other flags'
}

/**
 * Writes the code cache of every file loaded by requireWithCodeCache: V8's
 * code for the file's top level and for every function compiled so far. The
 * build calls it after a start and a first request, so that what a start runs
 * is in it and what it does not run (most of the packages) is not. Written to
 * a temporary file, then renamed: a start never reads half a cache.
 */
export function saveCodeCaches (): string[] {
  const written: string[] = []
  for (const [file, { script }] of loaded) {
    const cacheFile = cacheFileOf(file)
    const temporary = `${cacheFile}.${process.pid}.tmp`
    writeFileSync(temporary, Buffer.concat([Buffer.from(`${stamp(file)}\n`), script.createCachedData()]), { mode: 0o644 })
    renameSync(temporary, cacheFile)
    written.push(cacheFile)
  }
  return written
}
