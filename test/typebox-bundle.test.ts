import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { ensureBuilt } from '../bench/lib/service.js'
import * as fromSources from '../src/schemas.js'

// `npm run build` replaces dist/src/typebox.js with one bundled module
// (scripts/bundle-typebox.mjs, src/typebox.ts): the built service must build
// the very schemas the sources do, and load TypeBox from nowhere else.

const root = join(import.meta.dirname, '..')
ensureBuilt(root, (line) => { t.comment(line) })

t.test('the bundle is one module: it imports nothing', async (t) => {
  const bundle = readFileSync(join(root, 'dist', 'src', 'typebox.js'), 'utf8')
  t.notMatch(bundle, /^\s*import\s|\bimport\(|\brequire\(/m, 'no import of another module')
  t.match(bundle, /export\s*\{[^}]*\bType\b/, 'it exports Type')
})

t.test('no compiled file imports the typebox package itself', async (t) => {
  const offenders: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.js') && /from\s*['"]typebox(\/[^'"]*)?['"]|import\(\s*['"]typebox/.test(readFileSync(path, 'utf8'))) offenders.push(relative(root, path))
    }
  }
  for (const dir of ['src', 'plugins', 'routes']) walk(join(root, 'dist', dir))
  t.same(offenders, [], 'every schema is built with the bundle')
})

t.test('the built schemas equal the sources\' (built with the package)', async (t) => {
  const built = await import(pathToFileURL(join(root, 'dist', 'src', 'schemas.js')).href) as Record<string, unknown>
  const names = Object.keys(fromSources).filter((name) => typeof (fromSources as Record<string, unknown>)[name] === 'object')
  t.ok(names.length >= 20, `${names.length} schemas compared`)
  for (const name of names) {
    t.same(JSON.parse(JSON.stringify(built[name])), JSON.parse(JSON.stringify((fromSources as Record<string, unknown>)[name])), name)
  }
  const errorsOf = built.errors as typeof fromSources.errors
  t.same(JSON.parse(JSON.stringify(errorsOf(400, 401))), JSON.parse(JSON.stringify(fromSources.errors(400, 401))), 'errors()')
})
