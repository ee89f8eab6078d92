import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { test } from 'tap'
import { projectRoot } from '../../src/paths.js'

// tap rebuilds its Test class, installing plugins from the registry into
// .tap/plugins/ ("added 98 packages"), whenever the built plugin set is not the
// configured one: scripts/tap-plugins.mjs builds it at install time instead.

const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string>, devDependencies: Record<string, string>, tap: { plugin: string[] } }

test('npm ci (prepare) and npm test (pretest) build tap\'s plugins from the installed packages', async (t) => {
  t.match(pkg.scripts.prepare, /node scripts\/tap-plugins\.mjs/)
  t.match(pkg.scripts.pretest, /node scripts\/tap-plugins\.mjs/)
  for (const plugin of pkg.tap.plugin.filter((p) => !p.startsWith('!'))) t.ok(pkg.devDependencies[plugin], `${plugin} is a devDependency of the project`)
})

test('the Test class tap runs is built with the configured plugins, so the runner rebuilds (and installs) nothing', async (t) => {
  const again = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'tap-plugins.mjs')], { cwd: projectRoot, encoding: 'utf8' })
  t.equal(again.status, 0, again.stderr)
  t.equal(again.stdout + again.stderr, '', 'silent')
  const fromRun = createRequire(createRequire(createRequire(join(projectRoot, 'package.json')).resolve('tap/package.json')).resolve('@tapjs/run/package.json'))
  const { TapConfig } = await import(pathToFileURL(fromRun.resolve('@tapjs/config')).href) as { TapConfig: { load: () => Promise<{ pluginSignature: string, pluginList: string[] }> } }
  const config = await TapConfig.load()
  t.ok(config.pluginList.includes('@tapjs/tsx') && !config.pluginList.includes('@tapjs/typescript'), 'package.json\'s tap.plugin')
  const built = readFileSync(join(dirname(fromRun.resolve('@tapjs/test/package.json')), 'test-built', 'dist', 'esm', 'index.js'), 'utf8')
  t.ok(built.includes(`export const signature = \`${config.pluginSignature}\``), 'the built signature is the configured one (the runner\'s test for a rebuild)')
})
