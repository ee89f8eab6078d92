import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The project root (the folder holding package.json), found from this file so
 * that the same code works from `src/` (tests, tsx) and from `dist/src/` (npm start).
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

export const projectRoot = findRoot()
export const migrationsDir = { sqlite: join(projectRoot, 'migrations', 'sqlite'), postgres: join(projectRoot, 'migrations', 'postgres') }
export const commonPasswordsFile = join(projectRoot, 'src', 'passwords', 'common-passwords.txt')
export const publicDir = join(projectRoot, 'public')
