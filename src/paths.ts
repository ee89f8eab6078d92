import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * The project root (the folder holding package.json), found from this file so
 * that the same code works from the sources (tests, tsx) and from the build
 * (dist/, where this module may sit in a shared chunk).
 */
function findRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
  return dir
}

/** True when running the sources through a TypeScript loader, false when running the build. */
export const fromSources = import.meta.url.endsWith('.ts')
export const projectRoot = findRoot()
/** Where src/, plugins/ and routes/ are run from: the project itself, or dist/ once built. */
export const codeRoot = fromSources ? projectRoot : join(projectRoot, 'dist')
export const migrationsDir = { sqlite: join(projectRoot, 'migrations', 'sqlite'), postgres: join(projectRoot, 'migrations', 'postgres') }
export const commonPasswordsFile = join(projectRoot, 'src', 'passwords', 'common-passwords.txt')
export const publicDir = join(projectRoot, 'public')

/**
 * A worker thread running the module `src/<path>` (without extension). From
 * the build it is the built file. From the sources the worker registers tsx
 * first: Node 20 does not pass the parent's loader (`--import`) to a worker.
 */
export function startWorker (path: string, options: WorkerOptions = {}): Worker {
  if (!fromSources) return new Worker(pathToFileURL(join(codeRoot, 'src', `${path}.js`)), options)
  const source = pathToFileURL(join(projectRoot, 'src', `${path}.ts`)).href
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(source)}) })`, { ...options, eval: true })
}
