import { normalizeEmail } from '../accounts/accounts.js'
import type { Config } from '../config.js'
import { openStore } from '../db/open.js'
import type { Store, User } from '../db/store.js'
import { createPasswordHasher, type PasswordHasher } from '../passwords/hash.js'
import { CliError, type CommandContext } from './command.js'

export interface Services { config: Config, store: Store, hasher: PasswordHasher }

/** Opens (and migrates) the server's database for one command, closing it afterwards. */
export async function withServices<T> (ctx: CommandContext, work: (services: Services) => Promise<T>): Promise<T> {
  const config = ctx.config()
  const store = await openStore(config)
  try {
    return await work({ config, store, hasher: createPasswordHasher(config.argon2) })
  } finally {
    await store.close()
  }
}

/** A string option, or undefined. */
export const stringOption = (ctx: CommandContext, name: string): string | undefined => {
  const v = ctx.values[name]
  return typeof v === 'string' ? v : undefined
}

/** A whole-number option from `min` (1 by default) to `max` (`--limit 10`), or the default; a usage error otherwise. */
export function integerOption (ctx: CommandContext, name: string, fallback?: number, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  const v = stringOption(ctx, name)
  if (v === undefined) {
    if (fallback === undefined) throw new CliError(`--${name} is required`, 2)
    return fallback
  }
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new CliError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`, 2)
  return Number(v)
}

/** The password from --password, else asked twice on the terminal; a usage error without either. */
export async function passwordOption (ctx: CommandContext): Promise<string> {
  const given = stringOption(ctx, 'password')
  if (given !== undefined) return given
  if (ctx.prompt === undefined) throw new CliError('--password is required when there is no terminal to ask on', 2)
  const first = await ctx.prompt('Password: ')
  const again = await ctx.prompt('Password (again): ')
  if (first !== again) throw new CliError('the passwords do not match')
  return first
}

/** The user a command names by email; exit code 1 when there is none. */
export async function userByEmail (store: Store, email: string | undefined): Promise<User> {
  if (email === undefined || email.trim() === '') throw new CliError('name the user by email', 2)
  const user = await store.users.byEmail(normalizeEmail(email))
  if (user === undefined) throw new CliError(`no user with email ${normalizeEmail(email)}`)
  return user
}

/** A progress bar on a terminal; otherwise a plain line at every tenth. */
export function reporter (ctx: CommandContext, verb: string): (done: number, total: number) => void {
  let lastTenth = -1
  return (done, total) => {
    if (ctx.isTTY && ctx.progress !== undefined) {
      const width = 30
      const filled = Math.round(width * done / total)
      ctx.progress(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(100 * done / total)}% ${done}/${total}`)
      if (done === total) ctx.err('')
      return
    }
    const tenth = Math.floor(10 * done / total)
    if (tenth !== lastTenth) {
      lastTenth = tenth
      ctx.err(`${verb} ${done}/${total}`)
    }
  }
}
