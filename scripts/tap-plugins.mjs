// Builds tap's Test class with the plugins package.json's "tap.plugin" asks
// for, from the packages `npm ci` installed: run by `prepare` (so by `npm ci`)
// and by `pretest`; quick and silent when it is built already.
//
// tap compiles its plugins into node_modules/@tapjs/test/test-built. When the
// configured set differs from the one built there (ours drops @tapjs/typescript
// for @tapjs/tsx), the first run rebuilds it through `tap plugin add`, which
// asks the registry for each plugin's latest version and, since it counts only
// copies under .tap/plugins/, installs them there with npm ("added 98
// packages"): a test run that needs the network. Built here from the
// project's own devDependencies, the built set is the configured one, and
// `tap` builds and installs nothing.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

// tap's own copies of its packages, as its runner resolves them. Without tap
// (`npm ci --omit=dev`) there are no tests to prepare.
let fromRun
try {
  const fromTap = createRequire(createRequire(join(process.cwd(), 'package.json')).resolve('tap/package.json'))
  fromRun = createRequire(fromTap.resolve('@tapjs/run/package.json'))
} catch {
  process.exit(0)
}
const { TapConfig } = await import(pathToFileURL(fromRun.resolve('@tapjs/config')).href)
const testPackage = fromRun.resolve('@tapjs/test/package.json')
const testDir = dirname(testPackage)

// The list and signature computed by the code the runner compares them with.
const config = await TapConfig.load()
let builtCode = ''
try {
  builtCode = readFileSync(join(testDir, 'test-built', 'dist', 'esm', 'index.js'), 'utf8')
} catch {}
if (builtCode.includes(`export const signature = \`${config.pluginSignature}\``)) process.exit(0)

const generator = join(testDir, fromRun(testPackage).bin['generate-tap-test-class'])
const built = spawnSync(process.execPath, [generator, ...config.pluginList], { cwd: config.projectRoot, stdio: ['ignore', 'ignore', 'inherit'] })
if (built.status !== 0) {
  process.stderr.write(`tap-plugins: building tap's Test class with ${config.pluginList.join(', ')} failed (exit ${String(built.status ?? built.signal)})\n`)
  process.exit(1)
}
