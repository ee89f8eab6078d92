import { outboxFiles, readOutboxMail, type OutboxMail } from '../mail/outbox.js'
import { CliError, type Command, type CommandContext } from './command.js'
import { integerOption } from './services.js'

const json = { json: { type: 'boolean' } } as const

/** The outbox of the configuration, with a note when new mails go to SMTP instead. */
function outbox (ctx: CommandContext): string {
  const { mail } = ctx.config()
  if (mail.smtpUrl !== undefined) ctx.err(`note: SMTP_URL is set, so new mails go to the SMTP server; this reads the outbox (${mail.outboxDir})`)
  return mail.outboxDir
}

const OUTBOX_HELP = `The outbox is the folder where the service writes each mail as an .eml file when
SMTP_URL is not set (outbox/ beside the SQLite file, data/outbox by default). A mail is
written just after the request that sends it has been answered (well within a second).`

export const mailList: Command = {
  name: 'mail list',
  summary: 'list the latest mails of the outbox',
  usage: '[--limit N] [--json]',
  help: `Lists the latest mails of the outbox, latest first: its number (for "mail show N"),
when it was written, to whom, and its subject, separated by tabs.
${OUTBOX_HELP}
  --limit N   at most N mails (default 10)
  --json      one JSON object per line: {"n","file","date","to","subject"}`,
  options: { limit: { type: 'string' }, ...json },
  async run (ctx) {
    const limit = integerOption(ctx, 'limit', 10, 1_000_000)
    const dir = outbox(ctx)
    const files = await outboxFiles(dir)
    if (files.length === 0) {
      ctx.err(`no mails in ${dir}`)
      return 0
    }
    for (const [i, file] of files.slice(0, limit).entries()) {
      const mail = await readOutboxMail(dir, file)
      if (ctx.values.json === true) ctx.out(JSON.stringify({ n: i + 1, file, date: mail.date, to: mail.to, subject: mail.subject }))
      else ctx.out(`${i + 1}\t${mail.date}\t${mail.to}\t${mail.subject}`)
    }
    if (files.length > limit) ctx.err(`${files.length - limit} older mail(s) not shown (--limit)`)
    return 0
  }
}

function printMail (ctx: CommandContext, mail: OutboxMail): void {
  if (ctx.values.json === true) {
    ctx.out(JSON.stringify(mail))
    return
  }
  ctx.out(`File:    ${mail.file}`)
  ctx.out(`Date:    ${mail.date}`)
  ctx.out(`From:    ${mail.from}`)
  ctx.out(`To:      ${mail.to}`)
  ctx.out(`Subject: ${mail.subject}`)
  ctx.out('')
  ctx.out(mail.text.trimEnd())
  if (mail.links.length > 0) {
    ctx.out('')
    ctx.out('Links:')
    for (const link of mail.links) ctx.out(link)
  }
  if (mail.token !== null) ctx.out(`Token: ${mail.token}`)
}

export const mailShow: Command = {
  name: 'mail show',
  summary: 'show a mail of the outbox, decoded',
  usage: '[N] [--json]',
  help: `Shows the Nth latest mail of the outbox (1, the latest, by default; the numbers of
"mail list"), decoded: its headers, its plain text, then every link on a line of its
own and the token the first link carries, ready to copy.
${OUTBOX_HELP}
  --json   one JSON object: {"file","date","from","to","subject","text","links","token"}
Exit code 1 when there is no Nth mail.`,
  options: json,
  positionals: 1,
  async run (ctx) {
    const word = ctx.positionals[0] ?? '1'
    if (!/^\d+$/.test(word) || Number(word) < 1) throw new CliError(`N must be a whole number from 1, got "${word}"`, 2)
    const n = Number(word)
    const dir = outbox(ctx)
    const files = await outboxFiles(dir)
    const file = files[n - 1]
    if (file === undefined) throw new CliError(files.length === 0 ? `no mails in ${dir}` : `no mail ${n}: the outbox holds ${files.length}`)
    printMail(ctx, await readOutboxMail(dir, file))
    return 0
  }
}

export const mailCommands = [mailList, mailShow]
