import { KEYS_RELOAD_INTERVAL, keyringFromConfig } from '../keys/keyring.js'
import { IAT_LEEWAY } from '../tokens/claims.js'
import { CliError, type Command } from './command.js'
import { withServices } from './services.js'

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')

export const keysRotate: Command = {
  name: 'keys rotate',
  summary: 'add a new signing key; the old ones keep verifying until their tokens expire',
  usage: '',
  help: `Generates a new key for JWT_ALGORITHM (HS256 secret, Ed25519, P-256 or RSA-2048)
and stores it in the database DATABASE_URL names: it signs every token from then
on. Running instances pick it up within ${KEYS_RELOAD_INTERVAL} seconds, without a restart. The
previous keys stay in GET /.well-known/jwks.json and keep verifying until every
token they signed has expired (the longer of ACCESS_TOKEN_LIFETIME and
REFRESH_TOKEN_LIFETIME, plus ${KEYS_RELOAD_INTERVAL + IAT_LEEWAY} seconds), so nobody is logged out; keys past that
are deleted. Refused while an explicit JWT_SECRET signs HS256 tokens.`,
  async run (ctx) {
    return await withServices(ctx, async ({ config, store }) => {
      const keyring = keyringFromConfig(config, store)
      await keyring.init()
      const before = keyring.signingKid
      let rotated
      try {
        rotated = await keyring.rotate()
      } catch (err) {
        throw new CliError((err as Error).message)
      }
      ctx.out(`new signing key ${rotated.kid} (${rotated.algorithm})`)
      if (before !== undefined) ctx.out(`previous key ${before} verifies until ${iso(rotated.retiredVerifyUntil)}`)
      ctx.err(`running instances sign with the new key within ${KEYS_RELOAD_INTERVAL} seconds${rotated.purged > 0 ? `; ${rotated.purged} expired key(s) deleted` : ''}`)
      return 0
    })
  }
}

export const keysList: Command = {
  name: 'keys list',
  summary: 'list the signing keys and until when each verifies',
  usage: '',
  help: `Prints one line per stored key: kid, algorithm, created, and "signing" for the
key that signs, or until when a retired key keeps verifying. Never prints key material.`,
  async run (ctx) {
    return await withServices(ctx, async ({ config, store }) => {
      const keyring = keyringFromConfig(config, store)
      const nowSeconds = Math.floor(Date.now() / 1000)
      const rows = (await store.signingKeys.list()).sort((a, b) => a.createdAt - b.createdAt)
      if (config.jwtSecret !== undefined && config.jwtAlgorithm === 'HS256') ctx.out('JWT_SECRET is set: it signs every token (HS256); the keys below only verify')
      for (const row of rows) {
        const state = row.retiredAt === null
          ? 'signing'
          : row.retiredAt + keyring.overlap >= nowSeconds ? `verifies until ${iso(row.retiredAt + keyring.overlap)}` : 'expired'
        ctx.out(`${row.kid}  ${row.algorithm.padEnd(5)}  created ${iso(row.createdAt)}  ${state}`)
      }
      if (rows.length === 0) ctx.out('no keys stored yet (the server or "keys rotate" creates the first)')
      return 0
    })
  }
}

export const keysRevoke: Command = {
  name: 'keys revoke',
  summary: 'withdraw a retired key at once (a leaked key): its tokens stop verifying',
  usage: 'KID',
  positionals: 1,
  help: `Deletes the retired key KID from the database: running instances stop accepting
the tokens it signed within ${KEYS_RELOAD_INTERVAL} seconds (at their next read of the keys),
and it leaves GET /.well-known/jwks.json. The signing key cannot be revoked: run
"keys rotate" first, then revoke the key it replaced. Users holding tokens signed
by it must log in again.`,
  async run (ctx) {
    const kid = ctx.positionals[0]
    if (kid === undefined || kid === '') throw new CliError('which key? "keys revoke KID" ("keys list" shows the kids)', 2)
    return await withServices(ctx, async ({ store }) => {
      const rows = await store.signingKeys.list()
      const row = rows.find((r) => r.kid === kid)
      if (row === undefined) throw new CliError(`no stored key has kid ${kid}`)
      if (row.retiredAt === null) throw new CliError(`${kid} is the signing key: run "keys rotate" first, then revoke it`)
      await store.signingKeys.remove(kid)
      ctx.out(`key ${kid} revoked`)
      ctx.err(`running instances stop accepting its tokens within ${KEYS_RELOAD_INTERVAL} seconds`)
      return 0
    })
  }
}
