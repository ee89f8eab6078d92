import type { Command } from './command.js'
import { importDjango } from './import-django.js'
import { mailCommands } from './mail.js'
import { keysList, keysRevoke, keysRotate } from './keys.js'
import { migrate } from './migrate.js'
import { seed } from './seed.js'
import { tokensIssue } from './tokens-issue.js'
import { tokensPurge } from './tokens.js'
import { userCommands } from './users.js'

/**
 * Every command of `npm run cli`, in the order `--help` lists them. A command is
 * a plain object (src/cli/command.ts) in a file of its group under src/cli/,
 * calling the same domain functions as the routes.
 */
export const commands: Command[] = [
  migrate,
  ...userCommands,
  tokensPurge,
  tokensIssue,
  seed,
  importDjango,
  keysRotate,
  keysList,
  keysRevoke,
  ...mailCommands
]
