// `npm run build`: the service as Node runs it in production, in dist/.
//
// One esbuild run bundles the TypeScript sources with the packages they import
// into ES modules. Node 20 loads hundreds of small package modules one by one
// (docs/benchmarks.md, "Start"): a bundle starts in a fraction of that time.
// The entry points keep the layout Node and @fastify/autoload expect — the
// server, the command line, each worker thread's module, and one file per
// plugin and route folder — and share the rest through chunks (dist/chunks/),
// so each module, and each package, exists once. Types are checked by
// `npm run typecheck` (tsc), not here.
import { build } from 'esbuild'
import { readdirSync, rmSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

/**
 * Left to Node's resolution: native addons, and packages that find their own
 * files at run time (@fastify/swagger-ui is told where its files are:
 * plugins/external/swagger-ui.ts).
 */
export const EXTERNAL = [
  'better-sqlite3', '@node-rs/argon2', 'pg-native',
  // Imports the ES module `cookie` with import(), which a bundle would reduce to its default export.
  '@fastify/cookie',
  // Loaded with the first schema compiled, after the start (src/schema-compilers.ts):
  // one copy, from node_modules, for Fastify and the service.
  '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler',
  // Development tools that may appear in code paths of the sources only.
  'tsx'
]

/**
 * A package the code imports with import() is loaded when first used, by Node,
 * from node_modules: it is not on the start's path, and bundled, an import()
 * of a CommonJS package would yield only its default export.
 */
/** @type {import('esbuild').Plugin} */
const loadedOnDemand = {
  name: 'loaded-on-demand',
  setup (build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined)
  }
}

/**
 * `.ts` files under `dir` (relative to the project), recursively.
 * @param {string} dir
 * @param {(name: string) => boolean} [keep]
 * @returns {string[]}
 */
function sources (dir, keep = () => true) {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && keep(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort()
}

/**
 * Every file that Node or @fastify/autoload loads by its path.
 * @returns {string[]}
 */
export function entryPoints () {
  return [
    'src/server.ts',
    'src/cli/main.ts',
    ...sources('src', (name) => name.endsWith('-worker.ts')),
    ...sources('plugins'),
    ...sources('routes')
  ]
}

export async function buildService () {
  rmSync(join(root, 'dist'), { recursive: true, force: true })
  await build({
    absWorkingDir: root,
    entryPoints: entryPoints(),
    outdir: 'dist',
    outbase: '.',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    // Positions only: Node reads every map of a module it loads (--enable-source-maps).
    sourcesContent: false,
    external: EXTERNAL,
    plugins: [loadedOnDemand],
    // Bundled CommonJS packages call require() for Node's modules and their own
    // optional ones; an ES module has no require of its own.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning'
  })
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await buildService()
