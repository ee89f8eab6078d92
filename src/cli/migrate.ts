import { openStore } from '../db/open.js'
import type { Command } from './command.js'

export const migrate: Command = {
  name: 'migrate',
  summary: 'apply the database migrations and exit',
  usage: '',
  help: `Applies every pending migration to the database DATABASE_URL names (creating a
SQLite file and its folder if needed), then exits. The server also migrates at
start; this lets a deploy pipeline migrate once before it starts instances.`,
  async run (ctx) {
    const store = await openStore(ctx.config())
    await store.close()
    ctx.out('migrations applied')
    return 0
  }
}
