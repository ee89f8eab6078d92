/*
 * The mails the service sends, as small templates: a subject, a plain-text
 * body and an HTML body, in one language (MAIL_LANGUAGE). Values are escaped
 * for HTML; nothing here knows how a mail is delivered.
 */

export type MailLanguage = 'en' | 'ko'
export type MailTemplate = 'password_reset' | 'email_verification' | 'email_change'

export interface MailContent { subject: string, text: string, html: string }

export interface TemplateValues {
  /** The link carrying the token (`<url>?token=…`). */
  link: string
  /** The address the mail goes to. */
  email: string
  /** Seconds the link stays valid. */
  lifetime: number
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)

function duration (seconds: number, language: MailLanguage): string {
  const [n, unit] = seconds % 86400 === 0
    ? [seconds / 86400, language === 'ko' ? '일' : 'day']
    : seconds % 3600 === 0
      ? [seconds / 3600, language === 'ko' ? '시간' : 'hour']
      : [Math.max(1, Math.round(seconds / 60)), language === 'ko' ? '분' : 'minute']
  return language === 'ko' ? `${n}${unit}` : `${n} ${unit}${n === 1 ? '' : 's'}`
}

interface Wording { subject: string, intro: string, action: string, ignore: string }

const WORDING: Record<MailLanguage, Record<MailTemplate, Wording>> = {
  en: {
    password_reset: {
      subject: 'Reset your password',
      intro: 'Someone (hopefully you) asked to reset the password of the account {email}.',
      action: 'Choose a new password',
      ignore: 'If you did not ask for this, ignore this mail: your password stays as it is.'
    },
    email_verification: {
      subject: 'Confirm your email address',
      intro: 'Please confirm that {email} is your email address.',
      action: 'Confirm my address',
      ignore: 'If you did not create an account, ignore this mail.'
    },
    email_change: {
      subject: 'Confirm your new email address',
      intro: 'Please confirm {email} as the new login address of your account.',
      action: 'Confirm my new address',
      ignore: 'If you did not ask for this change, ignore this mail: your account keeps its address.'
    }
  },
  ko: {
    password_reset: {
      subject: '비밀번호 재설정',
      intro: '{email} 계정의 비밀번호 재설정이 요청되었습니다.',
      action: '새 비밀번호 설정하기',
      ignore: '요청하지 않으셨다면 이 메일을 무시하세요. 비밀번호는 바뀌지 않습니다.'
    },
    email_verification: {
      subject: '이메일 주소를 확인해 주세요',
      intro: '{email} 주소가 본인의 이메일 주소인지 확인해 주세요.',
      action: '이메일 주소 확인하기',
      ignore: '계정을 만든 적이 없다면 이 메일을 무시하세요.'
    },
    email_change: {
      subject: '새 이메일 주소를 확인해 주세요',
      intro: '{email} 주소를 계정의 새 로그인 주소로 확인해 주세요.',
      action: '새 이메일 주소 확인하기',
      ignore: '변경을 요청하지 않으셨다면 이 메일을 무시하세요. 계정의 주소는 바뀌지 않습니다.'
    }
  }
}

const VALIDITY: Record<MailLanguage, (d: string) => string> = {
  en: (d) => `The link is valid for ${d} and can be used once.`,
  ko: (d) => `링크는 ${d} 동안 한 번만 사용할 수 있습니다.`
}

export function renderMail (template: MailTemplate, language: MailLanguage, values: TemplateValues): MailContent {
  const w = WORDING[language][template]
  const intro = w.intro.replace('{email}', values.email)
  const validity = VALIDITY[language](duration(values.lifetime, language))
  const text = `${intro}\n\n${w.action}:\n${values.link}\n\n${validity}\n${w.ignore}\n`
  const html = `<!doctype html>
<html lang="${language}"><head><meta charset="utf-8"><title>${escapeHtml(w.subject)}</title></head>
<body>
<p>${escapeHtml(intro)}</p>
<p><a href="${escapeHtml(values.link)}">${escapeHtml(w.action)}</a></p>
<p>${escapeHtml(validity)}<br>${escapeHtml(w.ignore)}</p>
</body></html>
`
  return { subject: w.subject, text, html }
}
