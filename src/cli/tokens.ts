import type { Command } from './command.js'
import { withServices } from './services.js'

export const tokensPurge: Command = {
  name: 'tokens purge',
  summary: 'delete expired refresh tokens now, with counts',
  usage: '[--json]',
  help: `Deletes refresh-token rows past their expiry, revoked or not, and exchanged
simplejwt tokens past theirs; prints how many. A revoked token that has not yet
expired is kept on purpose: presenting it again must still be detected as reuse
(its whole login is then revoked), and once it has expired it is refused anyway.
The server does the same at start and every TOKEN_PURGE_INTERVAL (default 1h).
  --json   {"expired":N,"revoked":N,"legacy_tokens":N}`,
  options: { json: { type: 'boolean' } },
  async run (ctx) {
    return await withServices(ctx, async ({ store }) => {
      const counts = await store.refreshTokens.purge(Math.floor(Date.now() / 1000))
      if (ctx.values.json === true) ctx.out(JSON.stringify({ expired: counts.expired, revoked: counts.revoked, legacy_tokens: counts.legacyTokens }))
      else ctx.out(`purged ${counts.expired} expired refresh token(s) (${counts.revoked} of them revoked) and ${counts.legacyTokens} exchanged simplejwt token(s)`)
      return 0
    })
  }
}
