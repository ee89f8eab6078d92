import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { SMTPServer } from 'smtp-server'
import type { Test } from 'tap'
import type { Config } from '../../src/config.js'
import { buildWithLogs, post, testConfig } from './app.js'

/** A mail as the test SMTP server received it. */
export interface ReceivedMail {
  to: string[]
  /** The whole RFC 822 message. */
  raw: string
  subject: string
  /** The decoded text/plain and text/html parts, joined. */
  body: string
  /** The `token` query parameter of the first link in the body. */
  token: string | undefined
  user: string | undefined
}

function decodePart (headers: string, content: string): string {
  const encoding = /content-transfer-encoding:\s*([\w-]+)/i.exec(headers)?.[1]?.toLowerCase()
  if (encoding === 'base64') return Buffer.from(content.replace(/\s+/g, ''), 'base64').toString('utf8')
  if (encoding === 'quoted-printable') {
    const bytes = content.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    return Buffer.from(bytes, 'latin1').toString('utf8')
  }
  return content
}

/** The decoded text parts of a (multipart) message: enough MIME for the service's own mails. */
export function mailBody (raw: string): string {
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(raw)?.[1]
  const parts = boundary === undefined ? [raw] : raw.split(`--${boundary}`).slice(1, -1)
  return parts.map((part) => {
    const split = part.search(/\r?\n\r?\n/)
    return decodePart(part.slice(0, split), part.slice(split).trim())
  }).join('\n')
}

function decodeSubject (raw: string): string {
  const line = /^subject:\s*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(raw)?.[1] ?? ''
  return line.replace(/\r?\n[ \t]/g, ' ').replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_m, enc: string, text: string) =>
    enc.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8')).trim()
}

export function parseMail (raw: string, to: string[] = [], user?: string): ReceivedMail {
  const body = mailBody(raw)
  const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(body)?.[1]
  return { to, raw, subject: decodeSubject(raw), body, token, user }
}

export interface SmtpSink {
  /** `smtp://user:secret@127.0.0.1:<port>` */
  url: string
  mails: ReceivedMail[]
  /** The next mail to `to` (already received, or the next to arrive). */
  mailTo: (to: string) => Promise<ReceivedMail>
}

/** A real SMTP server (smtp-server) on a free loopback port, closed when the test ends. */
export async function smtpSink (t: Test): Promise<SmtpSink> {
  const mails: ReceivedMail[] = []
  const waiting: Array<{ to: string, resolve: (m: ReceivedMail) => void }> = []
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth (auth, _session, callback) {
      if (auth.username === 'user' && auth.password === 'secret') callback(null, { user: auth.username })
      else callback(new Error('Invalid username or password'))
    },
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address)
        const mail = parseMail(Buffer.concat(chunks).toString('utf8'), to, session.user as string | undefined)
        mails.push(mail)
        for (const w of [...waiting]) {
          if (to.includes(w.to)) { waiting.splice(waiting.indexOf(w), 1); w.resolve(mail) }
        }
        callback()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.server.address() as AddressInfo).port
  return {
    url: `smtp://user:secret@127.0.0.1:${port}`,
    mails,
    async mailTo (to) {
      const seen = mails.find((m) => m.to.includes(to))
      if (seen !== undefined) { mails.splice(mails.indexOf(seen), 1); return seen }
      return await new Promise<ReceivedMail>((resolve) => waiting.push({ to, resolve: (m) => { mails.splice(mails.indexOf(m), 1); resolve(m) } }))
    }
  }
}

/** The app (as `buildWithLogs`, logging at info) mailing through a fresh `smtpSink`, with no mail rate limit unless `env` sets one. */
export async function buildWithSmtp (t: Test, env: NodeJS.ProcessEnv = {}): Promise<{ app: FastifyInstance, smtp: SmtpSink, logs: string[], config: Config }> {
  const smtp = await smtpSink(t)
  const config = testConfig(t, { LOG_LEVEL: 'info', SMTP_URL: smtp.url, RATE_LIMIT_MAIL_MAX: '1000', ...env })
  const { app, logs } = await buildWithLogs(t, env, config)
  return { app, smtp, logs, config }
}

/** Asks for a reset mail for `email` and returns the token it carries. */
export async function resetToken (app: FastifyInstance, smtp: SmtpSink, email: string): Promise<string> {
  const res = await post(app, '/account/password/reset', { email })
  if (res.statusCode !== 200) throw new Error(`reset failed: ${res.body}`)
  const token = (await smtp.mailTo(email)).token
  if (token === undefined) throw new Error('no token in the reset mail')
  return token
}
