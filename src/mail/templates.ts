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

/**
 * The notices: mails without a link, to tell the owner of an address what
 * happened to their account. `email_change_requested`: a change to `newEmail`
 * waits for its confirmation link (allauth mails the old address too);
 * `email_changed`: the change was made at once (EMAIL_VERIFICATION=none).
 */
export type NoticeTemplate = 'email_change_requested' | 'email_changed'

export interface NoticeValues {
  /** The address the notice goes to (the account's login address until now). */
  email: string
  /** The new address. */
  newEmail: string
}

interface NoticeWording { subject: string, body: string[] }

const NOTICES: Record<MailLanguage, Record<NoticeTemplate, NoticeWording>> = {
  en: {
    email_change_requested: {
      subject: 'A change of your email address was requested',
      body: [
        'Someone signed in to your account {email} asked to change its login address to {newEmail}. The change takes effect only when the link mailed to {newEmail} is followed.',
        'If this was you, there is nothing more to do.',
        'If it was not you, someone knows your password or holds one of your sessions: change your password now (or ask for a password reset at {email}). Changing the password cancels the pending change and ends every session.'
      ]
    },
    email_changed: {
      subject: 'Your email address was changed',
      body: [
        'The login address of your account {email} was changed to {newEmail}.',
        'If this was you, there is nothing more to do.',
        'If it was not you, someone knows your password or holds one of your sessions, and {email} can no longer be used to sign in or to reset the password: contact the service\'s administrators now, quoting this mail.'
      ]
    }
  },
  ko: {
    email_change_requested: {
      subject: '이메일 주소 변경이 요청되었습니다',
      body: [
        '{email} 계정에 로그인한 누군가가 로그인 주소를 {newEmail}(으)로 바꾸도록 요청했습니다. 변경은 {newEmail}(으)로 보낸 링크를 열어야 적용됩니다.',
        '본인이 요청하셨다면 더 하실 일은 없습니다.',
        '본인이 아니라면 누군가 비밀번호를 알고 있거나 세션을 가지고 있습니다. 지금 비밀번호를 바꾸세요({email}(으)로 비밀번호 재설정을 요청할 수도 있습니다). 비밀번호를 바꾸면 대기 중인 변경이 취소되고 모든 세션이 끝납니다.'
      ]
    },
    email_changed: {
      subject: '이메일 주소가 변경되었습니다',
      body: [
        '{email} 계정의 로그인 주소가 {newEmail}(으)로 변경되었습니다.',
        '본인이 변경하셨다면 더 하실 일은 없습니다.',
        '본인이 아니라면 누군가 비밀번호를 알고 있거나 세션을 가지고 있으며, {email}(으)로는 더 이상 로그인하거나 비밀번호를 재설정할 수 없습니다. 이 메일을 첨부해 서비스 관리자에게 바로 연락하세요.'
      ]
    }
  }
}

export function renderNotice (template: NoticeTemplate, language: MailLanguage, values: NoticeValues): MailContent {
  const w = NOTICES[language][template]
  const paragraphs = w.body.map((p) => p.replaceAll('{email}', values.email).replaceAll('{newEmail}', values.newEmail))
  const text = `${paragraphs.join('\n\n')}\n`
  const html = `<!doctype html>
<html lang="${language}"><head><meta charset="utf-8"><title>${escapeHtml(w.subject)}</title></head>
<body>
${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
</body></html>
`
  return { subject: w.subject, text, html }
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
