import { isEmailAddress, publicUser } from '../accounts/accounts.js'
import { createUserAdmin } from '../accounts/admin.js'
import type { User } from '../db/store.js'
import { EmailTakenError, WeakPasswordError } from '../errors.js'
import { CliError, type Command, type CommandContext } from './command.js'
import { integerOption, passwordOption, stringOption, userByEmail, withServices } from './services.js'
import { audit } from './tokens-issue.js'

/** Everything an operator sees of a user (never the password hash). */
export function adminView (user: User) {
  return {
    ...publicUser(user),
    is_active: user.isActive,
    is_staff: user.isStaff,
    is_superuser: user.isSuperuser,
    email_verified: user.emailVerified,
    legacy_id: user.legacyId ?? null
  }
}

function printUser (ctx: CommandContext, user: User): void {
  const view = adminView(user)
  if (ctx.values.json === true) {
    ctx.out(JSON.stringify(view))
    return
  }
  const width = Math.max(...Object.keys(view).map((k) => k.length))
  for (const [key, value] of Object.entries(view)) ctx.out(`${key.padEnd(width)}  ${value === null ? '-' : String(value)}`)
}

/** The domain's refusals (weak password, taken email) as one-line command errors. */
async function asCliErrors<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof WeakPasswordError || err instanceof EmailTakenError) throw new CliError((err as Error).message)
    throw err
  }
}

const json = { json: { type: 'boolean' } } as const
const EMAIL_ARG = 'E is the user\'s email address (case does not matter).'

export const usersCreate: Command = {
  name: 'users create',
  summary: 'create a user',
  usage: '--email E [--password P] [--staff] [--verified] [--json]',
  help: `Creates an active user with the password policy of /account/join.
  --email E      the login address (required)
  --password P   the password; without it, asked twice on the terminal
                 (a password on the command line is visible to other local users)
  --staff        mark the user as staff
  --verified     mark the address verified (no mail is sent): the user can log in
                 under EMAIL_VERIFICATION=mandatory
  --json         print the user as one JSON object
Exit code 1 if the email is taken or the password too weak.`,
  options: { email: { type: 'string' }, password: { type: 'string' }, staff: { type: 'boolean' }, verified: { type: 'boolean' }, ...json },
  async run (ctx) {
    const email = stringOption(ctx, 'email')
    if (email === undefined || email.trim() === '') throw new CliError('--email is required', 2)
    if (!isEmailAddress(email.trim())) throw new CliError(`--email must be an email address, got "${email}"`, 2)
    const password = await passwordOption(ctx)
    return await withServices(ctx, async ({ store, hasher }) => {
      const user = await asCliErrors(async () => await createUserAdmin({ store, hasher }).create({ email, password, staff: ctx.values.staff === true, verified: ctx.values.verified === true }))
      printUser(ctx, user)
      return 0
    })
  }
}

export const usersList: Command = {
  name: 'users list',
  summary: 'list users in the order they joined',
  usage: '[--limit N] [--offset M] [--json]',
  help: `Lists users in the order they joined (date joined, then id): email, active, staff,
date joined, last login. When more users follow, a last line on standard error
says how many and the --offset that shows them.
  --limit N    at most N users (default 100)
  --offset M   skip the first M users (default 0)
  --json       one JSON object per line (the fields of "users show --json")`,
  options: { limit: { type: 'string' }, offset: { type: 'string' }, ...json },
  async run (ctx) {
    const limit = integerOption(ctx, 'limit', 100, 1_000_000)
    const offset = integerOption(ctx, 'offset', 0, Number.MAX_SAFE_INTEGER, 0)
    return await withServices(ctx, async ({ store, hasher }) => {
      const { users, total } = await createUserAdmin({ store, hasher }).list(limit, offset)
      for (const user of users) {
        if (ctx.values.json === true) ctx.out(JSON.stringify(adminView(user)))
        else {
          const flags = [user.isActive ? 'active' : 'inactive', ...(user.isStaff ? ['staff'] : []), ...(user.isSuperuser ? ['superuser'] : []), ...(user.emailVerified ? ['verified'] : [])].join(',')
          ctx.out(`${user.email}\t${flags}\tjoined ${user.dateJoined.toISOString()}\tlast login ${user.lastLogin?.toISOString() ?? '-'}`)
        }
      }
      const more = total - offset - users.length
      if (more > 0) ctx.err(`${more} more (--offset ${offset + users.length})`)
      else if (users.length === 0) ctx.err(total === 0 ? 'no users' : `no users after the first ${total}`)
      return 0
    })
  }
}

export const usersShow: Command = {
  name: 'users show',
  summary: 'show one user',
  usage: 'E [--json]',
  help: `Shows every field of the user (never the password hash). ${EMAIL_ARG}
  --json   one JSON object
Exit code 1 if there is no such user.`,
  options: json,
  positionals: 1,
  async run (ctx) {
    return await withServices(ctx, async ({ store }) => {
      printUser(ctx, await userByEmail(store, ctx.positionals[0]))
      return 0
    })
  }
}

export const usersVerify: Command = {
  name: 'users verify',
  summary: 'mark a user\'s email address verified',
  usage: 'E',
  help: `Marks the user's address verified, as following a verification link does (no mail is
sent; links already mailed stay valid until used or expired). The user can then log in
under EMAIL_VERIFICATION=mandatory. ${EMAIL_ARG}`,
  positionals: 1,
  async run (ctx) {
    return await withServices(ctx, async ({ store, hasher }) => {
      const user = await userByEmail(store, ctx.positionals[0])
      const changed = await createUserAdmin({ store, hasher }).verify(user)
      ctx.out(changed ? `${user.email} verified` : `${user.email} was verified already`)
      return 0
    })
  }
}

export const usersDeactivate: Command = {
  name: 'users deactivate',
  summary: 'refuse a user\'s logins and revoke their refresh tokens',
  usage: 'E',
  help: `Marks the user inactive (login answers ACCOUNT_INACTIVE, tokens stop working at once)
and revokes every refresh token of theirs. ${EMAIL_ARG}`,
  positionals: 1,
  async run (ctx) {
    return await withServices(ctx, async ({ store, hasher }) => {
      const user = await userByEmail(store, ctx.positionals[0])
      const revoked = await createUserAdmin({ store, hasher }).deactivate(user)
      ctx.out(`${user.email} deactivated; ${revoked} refresh token(s) revoked`)
      return 0
    })
  }
}

export const usersActivate: Command = {
  name: 'users activate',
  summary: 'let a deactivated user log in again',
  usage: 'E',
  help: `Marks the user active again. Tokens revoked when it was deactivated stay revoked:
the user logs in anew. ${EMAIL_ARG}`,
  positionals: 1,
  async run (ctx) {
    return await withServices(ctx, async ({ store, hasher }) => {
      const user = await userByEmail(store, ctx.positionals[0])
      await createUserAdmin({ store, hasher }).activate(user)
      ctx.out(`${user.email} activated`)
      return 0
    })
  }
}

export const usersDelete: Command = {
  name: 'users delete',
  summary: 'delete a user and all their tokens',
  usage: 'E',
  help: `Deletes the user and every refresh token of theirs; their access tokens stop
working at once. A new account with the same email later shares nothing with it. ${EMAIL_ARG}`,
  positionals: 1,
  async run (ctx) {
    return await withServices(ctx, async ({ store, hasher }) => {
      const user = await userByEmail(store, ctx.positionals[0])
      await createUserAdmin({ store, hasher }).remove(user)
      ctx.out(`${user.email} deleted`)
      return 0
    })
  }
}

export const usersSetPassword: Command = {
  name: 'users set-password',
  summary: 'set a user\'s password and revoke their tokens',
  usage: 'E [--password P]',
  help: `Sets a new password (the policy of /account/join applies), revokes every refresh
token of the user and refuses every access token issued before, as a password change does. ${EMAIL_ARG}
  --password P   the new password; without it, asked twice on the terminal`,
  options: { password: { type: 'string' } },
  positionals: 1,
  async run (ctx) {
    return await withServices(ctx, async ({ store, hasher }) => {
      const user = await userByEmail(store, ctx.positionals[0])
      const password = await passwordOption(ctx)
      await asCliErrors(async () => { await createUserAdmin({ store, hasher }).setPassword(user, password) })
      ctx.out(`password of ${user.email} set; every refresh token of theirs revoked, every access token issued before refused`)
      return 0
    })
  }
}

export const usersMfaReset: Command = {
  name: 'users mfa-reset',
  summary: 'turn a user\'s second factor (TOTP) off',
  usage: 'E',
  help: `Turns TOTP off for a user who lost the device: the secret, the recovery codes and the
logins waiting for a code are deleted; the next login asks for the password only (the user
can enrol again). One audit line (event mfa_disabled) goes to standard error. ${EMAIL_ARG}`,
  positionals: 1,
  async run (ctx) {
    return await withServices(ctx, async ({ store }) => {
      const user = await userByEmail(store, ctx.positionals[0])
      const wasOn = await store.mfa.disable(user.id)
      if (wasOn) audit(ctx, { event: 'mfa_disabled', userId: user.id, by: 'users mfa-reset' }, 'TOTP turned off by the command line')
      ctx.out(wasOn ? `${user.email}: TOTP turned off, recovery codes deleted` : `${user.email} had no TOTP`)
      return 0
    })
  }
}

export const userCommands = [usersCreate, usersList, usersShow, usersVerify, usersDeactivate, usersActivate, usersDelete, usersSetPassword, usersMfaReset]
