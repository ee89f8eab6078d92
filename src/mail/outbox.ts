import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import PostalMime from 'postal-mime'

/*
 * Reading the outbox (the .eml files written without SMTP_URL) by hand: the
 * files are RFC 822 messages as nodemailer composes them, quoted-printable
 * (a `token=3D…`, links folded over lines) with encoded headers, so they are
 * decoded with postal-mime (by nodemailer's authors, no dependencies) rather
 * than read as text.
 */

export interface OutboxMail {
  /** The file's name in the outbox. */
  file: string
  /** When it was written (its Date header, ISO 8601). */
  date: string
  from: string
  to: string
  subject: string
  /** The decoded plain-text part. */
  text: string
  /** Every distinct http(s) link of the mail (text part, then HTML part), in order. */
  links: string[]
  /** The `token` parameter of the first link that has one, or null. */
  token: string | null
}

/**
 * The outbox's .eml file names, latest first. Names start with the time they
 * were written (ISO 8601, sortable), so their order is the mails' order.
 * An outbox that does not exist yet holds no mail.
 */
export async function outboxFiles (dir: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return []
    throw err
  }
  return names.filter((name) => name.endsWith('.eml')).sort().reverse()
}

const LINK = /https?:\/\/[^\s"'<>]+/g

/** The links of a decoded mail, each once; links in the HTML have their entities undone. */
function linksOf (text: string, html: string): string[] {
  const fromHtml = [...html.matchAll(LINK)].map(([link]) => link.replace(/&amp;/g, '&'))
  return [...new Set([...[...text.matchAll(LINK)].map(([link]) => link), ...fromHtml])]
}

function tokenOf (links: string[]): string | null {
  for (const link of links) {
    const token = new URL(link).searchParams.get('token')
    if (token !== null) return token
  }
  return null
}

const addresses = (list: Array<{ name: string, address?: string }> | undefined): string =>
  (list ?? []).map((a) => a.address ?? a.name).join(', ')

/** One mail of the outbox, decoded. */
export async function readOutboxMail (dir: string, file: string): Promise<OutboxMail> {
  const email = await PostalMime.parse(await readFile(join(dir, file)))
  const text = email.text ?? ''
  const links = linksOf(text, email.html ?? '')
  return {
    file,
    date: email.date ?? '',
    from: addresses(email.from === undefined ? undefined : [email.from]),
    to: addresses(email.to),
    subject: email.subject ?? '',
    text,
    links,
    token: tokenOf(links)
  }
}
