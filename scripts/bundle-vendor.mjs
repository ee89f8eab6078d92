// Part of `npm run build`, after tsc: replaces the compiled re-export modules
// of src/vendor/ (third-party packages made of hundreds of small ES modules)
// with esbuild bundles of them, so that Node's loader reads a few files at
// start instead of hundreds. The code the bundles share is put in common
// chunks (`splitting`), so that a package's classes and state exist once.
// Every other package stays an import (or a require, from a CommonJS one). See src/vendor/typebox.ts.
import { build } from 'esbuild'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const vendor = join(root, 'src', 'vendor')
const out = join(root, 'dist', 'src', 'vendor')
/** The packages bundled: every other dependency is left to Node to import. */
export const BUNDLED = ['typebox', 'drizzle-orm', '@fastify/jwt', 'fast-jwt', '@fastify/rate-limit']
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies })
  .filter((name) => !BUNDLED.includes(name))
  .flatMap((name) => [name, `${name}/*`])

/** Bundles src/vendor/ into dist/src/vendor/ (run by `npm run build`, after tsc). */
export async function bundleVendor () {
  rmSync(out, { recursive: true, force: true })
  await build({
    entryPoints: readdirSync(vendor).filter((name) => name.endsWith('.ts')).map((name) => join(vendor, name)),
    outdir: out,
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external,
    // The CommonJS packages require() what stays outside (fastify-plugin, Node's
    // modules): an ES module has no require, so each file makes its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning'
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await bundleVendor()
