import { SEED_PATTERN, seedEmail, seedUsers } from '../accounts/seed.js'
import { CliError, type Command } from './command.js'
import { issueAndReport, issueOutput } from './tokens-issue.js'
import { integerOption, reporter, stringOption, withServices } from './services.js'

export const seed: Command = {
  name: 'seed',
  summary: 'create user1@example.test … userN@example.test for load tests',
  usage: '--number N --password P [--batch B] [--verified] [--tokens FILE [--lifetime D] [--format jsonl|csv]]',
  help: `Creates users user1@example.test … userN@example.test, all with password P,
for load-test scripts. The password is hashed once (argon2id, the server's
parameters) and that hash shared; users are inserted in transactions of B
(default 2000). Addresses that exist already are left as they are, so a re-run
only adds what is missing. Progress goes to standard error. The closing lines
say how to log in as them, or, under EMAIL_VERIFICATION=mandatory without
--verified, that they cannot log in yet and how to verify them.
  --number N     how many users (1 to 10000000)
  --password P   their password (no policy check: these are test accounts)
  --batch B      users per transaction (default 2000)
  --verified     their addresses count as verified, those of existing users
                 among them too (needed to log in under EMAIL_VERIFICATION=mandatory)
  --tokens FILE  then log every one of them in, as "tokens issue" does, writing
                 their tokens to FILE (mode 0600); --lifetime and --format as there`,
  options: { number: { type: 'string' }, password: { type: 'string' }, batch: { type: 'string' }, verified: { type: 'boolean' }, tokens: { type: 'string' }, lifetime: { type: 'string' }, format: { type: 'string' } },
  async run (ctx) {
    const number = integerOption(ctx, 'number', undefined, 10_000_000)
    const password = stringOption(ctx, 'password')
    if (password === undefined || password === '') throw new CliError('--password is required', 2)
    const batchSize = integerOption(ctx, 'batch', 2000, 5000)
    const verified = ctx.values.verified === true
    const tokensFile = stringOption(ctx, 'tokens')
    if (tokensFile === undefined && (ctx.values.lifetime !== undefined || ctx.values.format !== undefined)) throw new CliError('--lifetime and --format go with --tokens FILE', 2)
    const tokenOutput = tokensFile === undefined ? undefined : issueOutput(ctx, ctx.config(), tokensFile)
    return await withServices(ctx, async ({ config, store, hasher }) => {
      const started = performance.now()
      const { created, existing } = await seedUsers({ store, hasher, number, password, verified, batchSize, onProgress: reporter(ctx, 'seeded') })
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      const range = `${seedEmail(1)} … ${seedEmail(number)}`
      ctx.out(`seeded ${created} user(s) in ${seconds} s${existing > 0 ? ` (${existing} existed already)` : ''}`)
      if (tokenOutput !== undefined) {
        const emails = Array.from({ length: number }, (_, i) => seedEmail(i + 1))
        await issueAndReport(ctx, config, store, { emails, pattern: SEED_PATTERN }, tokenOutput)
      }
      if (config.emailVerification === 'mandatory' && !verified) {
        // Join's rule: no login before the address is verified.
        ctx.out('EMAIL_VERIFICATION=mandatory: users seeded without --verified cannot log in (403 EMAIL_NOT_VERIFIED) until verified;')
        ctx.out(`  run again with --verified to verify ${range} (nothing else changes)`)
        return 0
      }
      ctx.out(`log in as ${range} with the --password given:`)
      ctx.out(`  POST /account/login {"email":"${seedEmail(1)}","password":"<P>"}`)
      return 0
    })
  }
}
