import { open, type FileHandle } from 'node:fs/promises'
import { pino } from 'pino'
import { redact } from '../log.js'
import { normalizeEmail } from '../accounts/accounts.js'
import { ConfigError, parseDuration, type Config } from '../config.js'
import type { Store } from '../db/store.js'
import { keyringFromConfig } from '../keys/keyring.js'
import { issueLogins, type IssuedLogin, type IssueSummary } from '../tokens/issue.js'
import { createTokenService, tokenCodec } from '../tokens/tokens.js'
import { CliError, type Command, type CommandContext } from './command.js'
import { integerOption, reporter, stringOption, withServices } from './services.js'

/** The longest access token `tokens issue` makes: a load test, not a permanent credential. */
export const MAX_ISSUED_ACCESS_LIFETIME = 24 * 3600

const FORMATS = ['jsonl', 'csv'] as const
type Format = typeof FORMATS[number]

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
const csvField = (value: string): string => /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value

const CSV_HEADER = 'email,user_id,access,refresh'

function formatLine (format: Format, l: IssuedLogin): string {
  return format === 'jsonl'
    ? JSON.stringify({ email: l.email, user_id: l.userId, access: l.access, refresh: l.refresh })
    : [l.email, l.userId, l.access, l.refresh].map(csvField).join(',')
}

/** `--lifetime`: a duration as the environment's (`3600`, `90m`, `1h`), at most 24 h. */
function lifetimeOption (ctx: CommandContext, fallback: number): number {
  const given = stringOption(ctx, 'lifetime')
  if (given === undefined) return Math.min(fallback, MAX_ISSUED_ACCESS_LIFETIME)
  let seconds: number
  try {
    seconds = parseDuration('--lifetime', given)
  } catch (err) {
    throw new CliError(err instanceof ConfigError ? err.message : String(err), 2)
  }
  if (seconds > MAX_ISSUED_ACCESS_LIFETIME) throw new CliError(`--lifetime must be at most 24h, got "${given}"`, 2)
  return seconds
}

/** The addresses `pattern` names for n = from … to; `{n}` must appear exactly once. */
export function patternEmails (pattern: string, from: number, to: number): string[] {
  if (pattern.split('{n}').length !== 2) throw new CliError(`--pattern must contain {n} exactly once, got "${pattern}"`, 2)
  if (to < from) throw new CliError(`--to (${to}) must not be below --from (${from})`, 2)
  const emails: string[] = []
  for (let n = from; n <= to; n++) emails.push(normalizeEmail(pattern.replace('{n}', String(n))))
  return emails
}

export interface IssueRun {
  emails: string[]
  accessLifetime: number
  format: Format
  /** Where the lines go, a batch at a time. */
  write: (text: string) => Promise<void>
  onProgress?: (done: number, total: number) => void
}

/**
 * Issues the logins with the server's own keys and lifetimes (the keyring
 * the configuration describes, as at start) and writes the lines: shared by
 * `tokens issue` and `seed --tokens`.
 */
export async function issueTokensTo (config: Config, store: Store, run: IssueRun): Promise<IssueSummary> {
  const keys = keyringFromConfig(config, store)
  await keys.init()
  const tokens = createTokenService({ store, codec: tokenCodec(keys), accessLifetime: config.accessTokenLifetime, refreshLifetime: config.refreshTokenLifetime })
  if (run.format === 'csv') await run.write(`${CSV_HEADER}\n`)
  return await issueLogins({
    store,
    tokens,
    emails: run.emails,
    accessLifetime: run.accessLifetime,
    onProgress: run.onProgress,
    onBatch: async (logins) => { if (logins.length > 0) await run.write(logins.map((l) => formatLine(run.format, l) + '\n').join('')) }
  })
}

/**
 * The output file, created (or truncated) with mode 0600 — it holds live
 * credentials — or standard output.
 */
async function outputOf (ctx: CommandContext, out: string | undefined): Promise<{ write: (text: string) => Promise<void>, close: () => Promise<void> }> {
  if (out === undefined) {
    return { write: async (text) => { ctx.out(text.replace(/\n$/, '')) }, close: async () => {} }
  }
  let file: FileHandle
  try {
    file = await open(out, 'w', 0o600)
    await file.chmod(0o600)
  } catch (err) {
    throw new CliError(`cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  return { write: async (text) => { await file.write(text) }, close: async () => { await file.close() } }
}

/** The one audit line of a run, in the server's log format, on standard error. */
export function audit (ctx: CommandContext, fields: Record<string, unknown>, msg: string): void {
  // pino's own line (level, time, pid, hostname) with the server's redaction.
  pino({ redact }, { write: (line: string) => { ctx.err(line.trimEnd()) } }).info(fields, msg)
}

function formatOption (ctx: CommandContext): Format {
  const format = stringOption(ctx, 'format') ?? 'jsonl'
  if (!(FORMATS as readonly string[]).includes(format)) throw new CliError(`--format must be jsonl or csv, got "${format}"`, 2)
  return format as Format
}

export interface IssueOutput { accessLifetime: number, format: Format, out: string | undefined }

/** --lifetime, --format and where to (`--out`, or seed's `--tokens`): checked before anything is opened. */
export function issueOutput (ctx: CommandContext, config: Config, out: string | undefined): IssueOutput {
  return { accessLifetime: lifetimeOption(ctx, config.accessTokenLifetime), format: formatOption(ctx), out }
}

/** Issues for the given addresses and writes the summary, the audit line and the skipped counts. */
export async function issueAndReport (ctx: CommandContext, config: Config, store: Store, what: { emails: string[], pattern: string }, options: IssueOutput): Promise<IssueSummary> {
  const output = await outputOf(ctx, options.out)
  const started = performance.now()
  let summary: IssueSummary
  try {
    summary = await issueTokensTo(config, store, { emails: what.emails, accessLifetime: options.accessLifetime, format: options.format, write: output.write, onProgress: reporter(ctx, 'issued') })
  } finally {
    await output.close()
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  audit(ctx, { event: 'tokens_issued', count: summary.issued, pattern: what.pattern, lifetime: options.accessLifetime }, 'tokens issued by the command line')
  const skipped = summary.unknown + summary.inactive
  ctx.err(`issued ${summary.issued} login(s) in ${seconds} s${options.out === undefined ? '' : ` to ${options.out}`}` +
    (skipped > 0 ? `; skipped ${skipped}: ${summary.unknown} unknown, ${summary.inactive} inactive` : ''))
  return summary
}

export const tokensIssue: Command = {
  name: 'tokens issue',
  summary: 'log existing users in without their passwords, for load tests',
  usage: '--pattern P --to N [--from 1] [--lifetime D] [--format jsonl|csv] [--out FILE]',
  help: `For each existing, active user whose address the pattern names (P with {n}
replaced by --from … --to), starts a fresh login — as POST /account/login
would, without the password — and writes one line per user:
  jsonl: {"email","user_id","access","refresh"}
  csv:   a header line, then email,user_id,access,refresh
The tokens are ordinary: the refresh token refreshes and logs out, and
"log out everywhere", a password change or deactivation revoke them. Refresh
rows are written in batches of 1000, one transaction each; no password is
hashed. Unknown and inactive users are skipped and counted on standard
error, where progress and one audit line (event tokens_issued) go too.
  --pattern P    an address with {n}, e.g. user{n}@example.test (as seed makes)
  --from N       first n (default 1)
  --to N         last n (1 to 10000000)
  --lifetime D   the access tokens' lifetime (default ACCESS_TOKEN_LIFETIME, at most 24h);
                 refresh tokens get REFRESH_TOKEN_LIFETIME
  --format F     jsonl (default) or csv
  --out FILE     write there (mode 0600: these are live credentials) instead of standard output
Exit code 1 when no user was found.`,
  options: { pattern: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, lifetime: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } },
  async run (ctx) {
    const pattern = stringOption(ctx, 'pattern')
    if (pattern === undefined) throw new CliError('--pattern is required', 2)
    const to = integerOption(ctx, 'to', undefined, 10_000_000)
    const emails = patternEmails(pattern, integerOption(ctx, 'from', 1, 10_000_000), to)
    const options = issueOutput(ctx, ctx.config(), stringOption(ctx, 'out'))
    return await withServices(ctx, async ({ config, store }) => {
      const summary = await issueAndReport(ctx, config, store, { emails, pattern }, options)
      return summary.issued > 0 ? 0 : 1
    })
  }
}
