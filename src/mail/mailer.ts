import { randomBytes } from 'node:crypto'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Transporter } from 'nodemailer'
import type { MailConfig } from '../config.js'
import type { MailContent } from './templates.js'

/** The SMTP server's reply code of a failed delivery (nodemailer's `responseCode`), when there is one. */
function smtpReplyCode (err: unknown): { responseCode?: number } {
  const code = (err as { responseCode?: unknown } | null)?.responseCode
  return typeof code === 'number' ? { responseCode: code } : {}
}

/** The pino methods the mailer logs with (any pino logger fits). */
export interface MailLog {
  info: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface OutgoingMail extends MailContent {
  to: string
  /** What the mail is (template name) and for whom (user id): logged instead of the mail, which carries a token. */
  about: { template: string, userId: string }
}

export interface MailerOptions {
  config: MailConfig
  log: MailLog
  /** Milliseconds before the first retry; doubled for each further one. */
  retryDelay?: number
}

/** Socket timeouts of the SMTP connection (milliseconds): a hanging server fails the attempt, never the request. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 }

/**
 * Mail delivery, always off the request path: `send` queues and returns at
 * once; delivery (SMTP, or an .eml file in the outbox without SMTP_URL) is
 * retried with exponential backoff, and a mail that cannot be delivered is
 * logged (its template and user, never its content or token) and counted.
 * `later` runs other work that ends in a mail (a user lookup, a token write)
 * the same way, so that a request answers before and independently of it.
 */
export function createMailer ({ config, log, retryDelay = 1000 }: MailerOptions) {
  // nodemailer is loaded with the first mail, not at every start (it is a
  // noticeable share of one). `smtp` undefined: the outbox; `composer` builds
  // the RFC 822 message without sending it (the outbox's .eml files).
  let transports: Promise<{ smtp: Transporter | undefined, composer: Transporter }> | undefined
  const transport = async (): Promise<{ smtp: Transporter | undefined, composer: Transporter }> => await (transports ??= import('nodemailer').then(({ default: nodemailer }) => ({
    smtp: config.smtpUrl === undefined ? undefined : nodemailer.createTransport({ url: config.smtpUrl, pool: true, maxConnections: 2, ...SMTP_TIMEOUTS }),
    composer: nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
  })))

  const stats = { sent: 0, failed: 0 }
  let inFlight = 0
  let waiters: Array<() => void> = []
  const timers = new Map<NodeJS.Timeout, OutgoingMail['about']>()
  let closed = false

  const begin = (): void => { inFlight++ }
  const end = (): void => {
    if (--inFlight > 0) return
    const done = waiters
    waiters = []
    for (const resolve of done) resolve()
  }

  async function writeToOutbox (mail: OutgoingMail): Promise<string> {
    const { composer } = await transport()
    const info = await composer.sendMail({ from: config.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html })
    await mkdir(config.outboxDir, { recursive: true, mode: 0o700 })
    const file = join(config.outboxDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`)
    // Mode 0600: the file holds a live token. (`writeFile`'s mode is filtered by
    // the umask only upwards of 0600, and chmod makes it exact.)
    await writeFile(file, info.message as Buffer, { mode: 0o600, flag: 'wx' })
    await chmod(file, 0o600)
    return file
  }

  async function attempt (mail: OutgoingMail, tries: number): Promise<void> {
    try {
      const { smtp } = await transport()
      if (smtp === undefined) {
        const file = await writeToOutbox(mail)
        log.info({ event: 'mail_written', ...mail.about, file }, `mail written to ${file}`)
      } else {
        const info = await smtp.sendMail({ from: config.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html })
        log.info({ event: 'mail_sent', ...mail.about, messageId: info.messageId }, 'mail sent')
      }
      stats.sent++
      end()
    } catch (err) {
      const reason = (err as { code?: string }).code ?? (err as Error).name
      if (tries <= config.retries && !closed) {
        const delay = retryDelay * 2 ** (tries - 1)
        log.info({ event: 'mail_retry', ...mail.about, attempts: tries, reason, delay }, 'mail delivery failed; retrying')
        const timer = setTimeout(() => { timers.delete(timer); void attempt(mail, tries + 1) }, delay)
        timers.set(timer, mail.about)
        return
      }
      stats.failed++
      // The error's code and the SMTP reply's code only: never the mail, which
      // carries the token, nor the error's message, which may quote the server's
      // reply (an address it refused) or, for the outbox, a path built from it.
      log.error({ event: 'mail_failed', ...mail.about, attempts: tries, reason, ...smtpReplyCode(err) }, 'mail could not be delivered')
      end()
    }
  }

  return {
    /** Counts of mails delivered and given up since start. */
    stats,

    /** Queues a mail; never throws, never waits. */
    send (mail: OutgoingMail): void {
      begin()
      void attempt(mail, 1)
    },

    /** Runs `task` after the current request, tracked by `idle`; a failure is logged, not thrown. */
    later (what: string, task: () => Promise<void>): void {
      begin()
      setImmediate(() => {
        task().catch((err: unknown) => {
          // A task reads and writes the store: its error's message may be a
          // driver's, quoting the failed query's values; the code says enough.
          log.error({ event: 'mail_task_failed', task: what, reason: (err as { code?: string }).code ?? (err as Error).name }, 'mail task failed')
        }).finally(end)
      })
    },

    /** Resolves once every queued mail and task has finished (delivered or given up). */
    async idle (): Promise<void> {
      if (inFlight === 0) return
      await new Promise<void>((resolve) => waiters.push(resolve))
    },

    /** Stops retrying (pending retries are given up at their next turn) and closes the SMTP pool. */
    async close (): Promise<void> {
      closed = true
      for (const [timer, about] of timers) {
        clearTimeout(timer)
        stats.failed++
        log.error({ event: 'mail_failed', ...about, reason: 'SHUTDOWN' }, 'mail dropped at shutdown')
        end()
      }
      timers.clear()
      if (transports !== undefined) {
        const { smtp, composer } = await transports
        smtp?.close()
        composer.close()
      }
    }
  }
}

export type Mailer = ReturnType<typeof createMailer>
