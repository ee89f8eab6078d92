// Part of `npm run build`, after tsc: replaces the compiled re-export modules
// of src/vendor/ (third-party packages made of hundreds of small modules) with
// one esbuild bundle of all of them, dist/src/vendor/vendor.cjs, and each
// module with a stub that takes its exports from that bundle. One CommonJS file
// rather than ES modules, because Node 20 can start a CommonJS file from V8's
// code cache (src/code-cache.ts, made by scripts/code-cache.mjs) and has no way
// to for an ES module. In the bundle each package is wrapped in a function that
// runs when the package is first asked for, so a start runs only what it
// imports (not the PostgreSQL dialect on SQLite, say); and the packages share
// one copy of what they have in common (drizzle's classes, fast-jwt).
// Every other package stays a require of Node's. See src/vendor/typebox.ts.
import { build } from 'esbuild'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const vendor = join(root, 'src', 'vendor')
const out = join(root, 'dist', 'src', 'vendor')
/** The bundle, and what each stub loads it with. */
export const BUNDLE = 'vendor.cjs'
/** The packages bundled: every other dependency is left to Node to require. */
export const BUNDLED = ['typebox', 'drizzle-orm', '@fastify/jwt', 'fast-jwt', '@fastify/rate-limit', '@fastify/swagger', '@fastify/swagger-ui', '@fastify/static', 'fastify', 'pino', '@fastify/cookie', '@fastify/cors', '@fastify/under-pressure', 'fastify-plugin', '@fastify/error', 'close-with-grace', 'secure-json-parse', 'helmet']
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

/**
 * Node's modules that Fastify requires when it is loaded but uses only for an
 * HTTPS or HTTP/2 server (the service serves HTTP/1.1; TLS ends in front of
 * it): in the bundle they are loaded at their first use instead. Loading them
 * (with `tls`) was 10–20 ms of every start.
 */
export const LAZY_BUILTINS = ['https', 'http2']

/**
 * Each bundled `require('node:https')` gets an object that loads the module when
 * one of its properties is first read, and then answers with the module's own.
 */
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup (build) {
    const filter = new RegExp(`^(?:node:)?(?:${LAZY_BUILTINS.join('|')})$`)
    build.onResolve({ filter }, (args) => args.namespace === 'lazy-builtin'
      ? { path: args.path, external: true }
      : { path: `node:${args.path.replace(/^node:/, '')}`, namespace: 'lazy-builtin' })
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `let loaded
const load = () => (loaded ??= require(${JSON.stringify(args.path)}))
module.exports = new Proxy({}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_, key) => { const found = Reflect.getOwnPropertyDescriptor(load(), key); return found === undefined ? undefined : { ...found, configurable: true } }
})
`,
      loader: 'js'
    }))
  }
}

/**
 * `code` with every character beyond Latin-1 written as a `\u` escape. A few
 * packages' comments hold such characters (dashes): V8 would then keep the
 * whole bundle's source, which it holds for the functions it compiles later, at
 * two bytes a character (5.6 MB instead of 2.8). Escaped, they are the same
 * comments, and the same strings anywhere else (esbuild escapes those already).
 * @param {string} code
 * @returns {string}
 */
export function latin1 (code) {
  return code.replace(/[^\x00-\xff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The modules of src/vendor/, by the name of their file without `.ts`. */
function vendorModules () {
  return readdirSync(vendor).filter((name) => name.endsWith('.ts')).map((name) => name.slice(0, -3)).sort()
}

/**
 * The stub that replaces dist/src/vendor/<name>.js: the module's exports, taken
 * from the bundle. Their names are read from the bundle itself.
 */
function stub (name, exports) {
  const names = Object.keys(exports).filter((key) => key !== 'default' && /^[A-Za-z_$][\w$]*$/.test(key)).sort()
  const lines = [
    `// Built by scripts/bundle-vendor.mjs from src/vendor/${name}.ts: its exports, from the bundle ${BUNDLE}.`,
    "import { requireWithCodeCache } from '../code-cache.js'",
    `const m = requireWithCodeCache(new URL('./${BUNDLE}', import.meta.url))[${JSON.stringify(name)}]`
  ]
  if ('default' in exports) lines.push('export default m.default')
  if (names.length > 0) lines.push(`export const { ${names.join(', ')} } = m`)
  return `${lines.join('\n')}\n`
}

/** Bundles src/vendor/ into dist/src/vendor/ (run by `npm run build`, after tsc). */
export async function bundleVendor () {
  rmSync(out, { recursive: true, force: true })
  const modules = vendorModules()
  // The bundle's exports: one getter per module, which runs the module (and
  // the packages it imports) when first read.
  const entry = `module.exports = {\n${modules.map((name) => `  get ${JSON.stringify(name)} () { return require('./${name}.ts') }`).join(',\n')}\n}\n`
  await build({
    stdin: { contents: entry, resolveDir: vendor, sourcefile: 'vendor-entry.cjs', loader: 'js' },
    outfile: join(out, BUNDLE),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external,
    // Strict mode for the whole file, as for the ES modules it replaces
    // (TypeBox and drizzle-orm are ES modules: in a CommonJS bundle they would
    // run sloppy); then the path keepDirname's declarations are resolved with.
    banner: { js: "'use strict'; const __vendorPath = (path) => require('node:path').join(__dirname, path);" },
    plugins: [keepDirname, lazyBuiltins],
    logLevel: 'warning'
  })
  const file = join(out, BUNDLE)
  writeFileSync(file, latin1(readFileSync(file, 'utf8')))
  const bundle = createRequire(import.meta.url)(file)
  for (const name of modules) writeFileSync(join(out, `${name}.js`), stub(name, bundle[name]))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await bundleVendor()
