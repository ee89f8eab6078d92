/* global location, history */
// Social login on the client page (docs/API.md "Social login"): a "Continue
// with <provider>" link for each provider the service has (GET
// /account/social/providers), the error a failed sign-in came back with
// (?error=CODE), and, signed in, the linked accounts with link and unlink.
// The sign-in itself is browser navigation (start → provider → callback),
// never fetch: the provider's pages must be shown, and the callback sets the
// session's cookies. Imported by app.js; it only talks to the service itself.

const API = (document.querySelector('meta[name="auth-api"]')?.getAttribute('content') ?? '').replace(/\/+$/, '')
const $ = (selector, root = document) => root.querySelector(selector)

/** What a ?error= code means to the user. */
const MESSAGES = {
  SOCIAL_EMAIL_IN_USE: 'An account with this email exists already. Log in to it (with its password or passkey), then link the provider below your profile.',
  SOCIAL_EMAIL_MISSING: 'The provider did not share an email address; allow it to, then try again.',
  SOCIAL_DENIED: 'The sign-in was cancelled at the provider.',
  SOCIAL_STATE_INVALID: 'The sign-in took too long or was not started here. Please try again.',
  SOCIAL_TOKEN_INVALID: 'The provider\'s answer could not be verified. Please try again.',
  SOCIAL_PROVIDER_UNAVAILABLE: 'The provider cannot be reached right now. Please try again shortly.',
  SOCIAL_ACCOUNT_IN_USE: 'This provider account is linked to another user, or you have another account of this provider linked.',
  EMAIL_NOT_VERIFIED: 'Your account is created: confirm your email with the link we sent, then sign in again.',
  ACCOUNT_INACTIVE: 'This account is inactive.',
  TOKEN_MISSING: 'Log in first to link a provider to your account.'
}

async function getJson (path, init = {}) {
  const res = await fetch(API + path, { credentials: 'include', headers: { accept: 'application/json', ...init.headers }, ...init })
  const body = await res.json().catch(() => null)
  if (!res.ok) throw new Error(body?.message ?? `The service answered HTTP ${res.status}.`)
  return body
}

function csrfToken () {
  for (const part of document.cookie.split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === 'csrf_token') return decodeURIComponent(value.join('='))
  }
  return ''
}

const loginForm = $('#login-form')
const buttons = $('#social-login')
const linkedForm = $('#social-form')
let providers = []

/** The error a sign-in came back with: shown once in the login form, then dropped from the address bar. */
function showReturnedError () {
  const params = new URLSearchParams(location.search)
  const code = params.get('error')
  if (code === null) return
  params.delete('error')
  history.replaceState(null, '', `${location.pathname}${params.size > 0 ? `?${params}` : ''}${location.hash}`)
  const box = $('.error', loginForm)
  const signedOut = $('#signed-out')
  const say = () => {
    box.textContent = MESSAGES[code] ?? `The sign-in failed (${code}).`
    box.hidden = false
    box.dataset.code = code
  }
  // Once app.js shows the signed-out view (showing it clears the box first).
  if (!signedOut.hidden) {
    say()
    return
  }
  const watcher = new window.MutationObserver(() => {
    if (signedOut.hidden) return
    watcher.disconnect()
    say()
  })
  watcher.observe(signedOut, { attributes: true, attributeFilter: ['hidden'] })
}

function renderButtons () {
  buttons.replaceChildren(...providers.map((p) => {
    const a = document.createElement('a')
    a.className = 'button secondary social-button'
    a.href = p.start_url
    a.dataset.provider = p.name
    a.textContent = `Continue with ${p.label}`
    return a
  }))
  buttons.hidden = providers.length === 0
}

async function loadLinked () {
  const { identities } = await getJson('/account/social')
  const list = $('#social-list', linkedForm)
  list.replaceChildren(...providers.map((p) => {
    const linked = identities.find((i) => i.provider === p.name)
    const li = document.createElement('li')
    li.dataset.provider = p.name
    const label = document.createElement('span')
    label.textContent = linked === undefined ? p.label : `${p.label} — ${linked.email === '' ? 'linked' : linked.email}`
    li.append(label)
    if (linked === undefined) {
      const a = document.createElement('a')
      a.className = 'button secondary'
      a.href = `${p.start_url}?link=true`
      a.textContent = 'Link'
      li.append(a)
    } else {
      const b = document.createElement('button')
      b.type = 'button'
      b.className = 'secondary'
      b.textContent = 'Unlink'
      b.addEventListener('click', () => { void unlink(p.name) })
      li.append(b)
    }
    return li
  }))
  linkedForm.hidden = false
}

async function unlink (name) {
  const box = $('.error', linkedForm)
  box.hidden = true
  try {
    await getJson(`/account/social/${encodeURIComponent(name)}`, { method: 'DELETE', headers: { 'x-csrf-token': csrfToken() } })
    await loadLinked()
  } catch (err) {
    box.textContent = err.message
    box.hidden = false
  }
}

showReturnedError()
getJson('/account/social/providers').then((body) => {
  providers = body.providers
  renderButtons()
  const signedIn = $('#signed-in')
  const follow = () => { if (!signedIn.hidden && providers.length > 0) void loadLinked().catch(() => {}) }
  new window.MutationObserver(follow).observe(signedIn, { attributes: true, attributeFilter: ['hidden'] })
  follow()
}).catch(() => {
  // No social login (an older service, or unreachable): the page works without it.
})
