// The last step of `npm run build`: makes V8's code cache of the packages'
// bundle (dist/src/vendor/vendor.cjs.v8cache, see src/code-cache.ts). It starts
// the built service the way `npm start` does — same Node flags, which V8
// checks before it uses a cache — on a fresh SQLite file, asks GET /health
// once, and saves the code of everything compiled so far in the bundle: what
// a start runs, and not the rest of the packages, which stay compiled on use.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const self = fileURLToPath(import.meta.url)

/**
 * The Node flags of the start script in `dir`'s package.json (`node [flags]
 * dist/src/server.js`): what the cache is made with, and what the benchmark
 * starts the service with.
 * @param {string} [dir] the project's folder
 * @returns {string[]}
 */
export function startFlags (dir = root) {
  const { scripts } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const match = /^node((?:\s+--?[\w-]+(?:=\S+)?)*)\s+dist\/src\/server\.js$/.exec(scripts?.start?.trim() ?? '')
  if (match === null) throw new Error(`package.json "start" is not "node [flags] dist/src/server.js": ${scripts?.start ?? '(none)'}`)
  return (match[1] ?? '').trim().split(/\s+/).filter((flag) => flag !== '')
}

async function warmAndSave () {
  const dir = mkdtempSync(join(tmpdir(), 'auth-code-cache-'))
  try {
    const dist = (path) => import(pathToFileURL(join(root, 'dist', path)).href)
    const { loadConfig } = await dist('src/config.js')
    const { buildApp } = await dist('src/app.js')
    const { saveCodeCaches } = await dist('src/code-cache.js')
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', DATABASE_URL: `file:${join(dir, 'auth.db')}` }, dir)
    const app = await buildApp(config, { logStream: { write () {} } })
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    const response = await fetch(`${address}/health`)
    await app.close()
    if (response.status !== 200) throw new Error(`GET /health answered ${response.status}`)
    for (const file of saveCodeCaches()) console.log(`code cache: ${file.slice(root.length + 1)}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv[2] === '--warm') {
    await warmAndSave()
  } else {
    // Without a cache the service is the same, only slower to start (and says
    // so when it starts): a failure here is one line, not a failed build.
    const r = spawnSync(process.execPath, [...startFlags(), self, '--warm'], { cwd: root, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8', timeout: 120_000 })
    if (r.status !== 0) {
      const reason = (r.stderr ?? '').split('\n').find((line) => /Error/.test(line)) ?? `exit ${r.status ?? r.signal}`
      console.log(`code cache not made (${reason.trim()}): the service starts without it`)
    }
  }
}
