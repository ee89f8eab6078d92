// Part of `npm run build`, after tsc: replaces the compiled re-export modules
// of src/vendor/ (third-party packages made of hundreds of small ES modules)
// with esbuild bundles of them, so that Node's loader reads a few files at
// start instead of hundreds. The code the bundles share is put in common
// chunks (`splitting`), so that a package's classes and state exist once.
// Every other package stays an import (or a require, from a CommonJS one). See src/vendor/typebox.ts.
import { build } from 'esbuild'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const vendor = join(root, 'src', 'vendor')
const out = join(root, 'dist', 'src', 'vendor')
/** The packages bundled: every other dependency is left to Node to import. */
export const BUNDLED = ['typebox', 'drizzle-orm', '@fastify/jwt', 'fast-jwt', '@fastify/rate-limit', '@fastify/swagger', '@fastify/swagger-ui', '@fastify/static', 'fastify']
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies })
  .filter((name) => !BUNDLED.includes(name))
  .flatMap((name) => [name, `${name}/*`])

/**
 * A CommonJS module that reads files next to it (@fastify/swagger-ui serves
 * its own folder, @fastify/swagger reads its package.json) keeps its own
 * `__dirname` and `__filename`: esbuild wraps each such module in a function,
 * where these declarations, prepended, are local to it. They are found from
 * the bundle's own location, so that dist/ and node_modules/ may move together.
 */
const keepDirname = {
  name: 'keep-dirname',
  setup (build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.c?js$/ }, (args) => {
      const contents = readFileSync(args.path, 'utf8')
      if (!/\b__(?:dirname|filename)\b/.test(contents)) return undefined
      const from = (path) => JSON.stringify(relative(out, path).split(sep).join('/'))
      return {
        contents: `var __dirname = __vendorPath(${from(dirname(args.path))}), __filename = __vendorPath(${from(args.path)});\n${contents}`,
        loader: 'js',
        resolveDir: dirname(args.path)
      }
    })
  }
}

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
    // modules): an ES module has no require, so each file makes its own, and
    // the path keepDirname's declarations are resolved with.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; import { fileURLToPath as __fileURLToPath } from 'node:url'; " +
        'const require = __createRequire(import.meta.url); const __vendorPath = (path) => __fileURLToPath(new URL(path, import.meta.url));'
    },
    plugins: [keepDirname],
    logLevel: 'warning'
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await bundleVendor()
