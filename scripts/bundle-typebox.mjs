// Part of `npm run build`, after tsc: replaces dist/src/typebox.js (a re-export
// of the `typebox` package, about 700 ES modules) with one bundled module, so
// that the service's start does not spend 120–160 ms in Node's module loader on
// it. See src/typebox.ts.
import { build } from 'esbuild'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
await build({
  entryPoints: [join(root, 'src', 'typebox.ts')],
  outfile: join(root, 'dist', 'src', 'typebox.js'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  allowOverwrite: true,
  logLevel: 'warning'
})
