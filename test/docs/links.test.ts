import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'tap'
import { projectRoot } from '../../src/paths.js'

/** README.md and every Markdown page under docs/. */
function pages (): string[] {
  const docs = join(projectRoot, 'docs')
  const found = [join(projectRoot, 'README.md')]
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name))
      else if (e.name.endsWith('.md')) found.push(join(dir, e.name))
    }
  }
  walk(docs)
  return found
}

test('the docs never point outside the repository, and every relative link resolves', async (t) => {
  t.ok(existsSync(join(projectRoot, 'docs', 'API.md')), 'the contract is in the repository')
  for (const page of pages()) {
    const text = readFileSync(page, 'utf8')
    const name = relative(projectRoot, page)
    t.notMatch(text, /\.\.\/shared\//, `${name} does not refer to ../shared/`)
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || target.startsWith('#')) continue
      t.notMatch(target, /^[a-z][a-z0-9+.-]*:/i, `${name}: ${target} is not an outside address`)
      const file = resolve(dirname(page), target.split('#')[0] ?? '')
      t.ok(file.startsWith(projectRoot + '/') && existsSync(file), `${name}: ${target} exists in the repository`)
    }
  }
})

test('the README stays a short entry point that links the contract', async (t) => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8')
  t.ok(Buffer.byteLength(readme) <= 10 * 1024, `README.md is ${Buffer.byteLength(readme)} bytes`)
  t.match(readme, /npm ci && npm start/)
  t.match(readme, /npm test/)
  t.match(readme, /\(docs\/API\.md\)/)
})
