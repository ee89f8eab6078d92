/* global location, history, CSS */
// A cookie-only browser client of the auth service (see docs/browser.md, "Using it from
// a browser"). The access and refresh tokens live in HttpOnly cookies that this
// script can neither read nor send by hand: the browser attaches them. The
// script only echoes the csrf_token value in X-CSRF-Token on POSTs, and when a
// request fails because the access token is gone it refreshes once and retries.
// No framework, no build step; `request` is exported for reuse.
import './sessions.js' // the "Sessions" list (issue 25), a module of its own

import { setupMfa } from './mfa.js'

const API = (document.querySelector('meta[name="auth-api"]')?.getAttribute('content') ?? '').replace(/\/+$/, '')
const CROSS_ORIGIN = API !== '' && new URL(API, location.href).origin !== location.origin
// Only for an API on another host, whose csrf_token cookie this page cannot
// read: the value it sends in the X-CSRF-Token response header, kept here.
const CSRF_STORE = 'auth-service.csrf'

/** An error answer of the API ({statusCode, code, message, details}) or a network failure (status 0). */
export class ApiError extends Error {
  constructor (status, body) {
    super(body?.message ?? `The service answered HTTP ${status}.`)
    this.name = 'ApiError'
    this.status = status
    this.code = body?.code ?? `HTTP_${status}`
    this.details = Array.isArray(body?.details) ? body.details : []
    this.body = body ?? null
  }
}

/** The session's cookies were set by the service but not kept by the browser. */
function cookiesRefused () {
  const plainHttp = location.protocol === 'http:' && !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(location.hostname)
  return new ApiError(0, {
    code: 'COOKIES_REFUSED',
    message: plainHttp
      ? 'The browser refused the session cookies: the service marks them Secure (COOKIE_SECURE=true) and this page is plain http. ' +
        'Open the page over https, or set COOKIE_SECURE=false on a plain-http test host.'
      : 'The browser refused the session cookies: allow cookies for this site, then log in again.'
  })
}

function readCookie (name) {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

function csrfToken () {
  return readCookie('csrf_token') ?? (CROSS_ORIGIN ? localStorage.getItem(CSRF_STORE) : null) ?? ''
}

/** One HTTP exchange: JSON in and out, cookies attached by the browser, CSRF header on POSTs. */
async function send (method, path, body) {
  const headers = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = csrfToken()
    if (csrf !== '') headers['x-csrf-token'] = csrf
  }
  let res
  try {
    res = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // Cookies go to another origin only when asked for (and CORS allows it).
      credentials: CROSS_ORIGIN ? 'include' : 'same-origin',
      cache: 'no-store'
    })
  } catch {
    throw new ApiError(0, {
      code: 'NETWORK_ERROR',
      message: `Cannot reach the auth service${CROSS_ORIGIN ? ` at ${API}` : ''}: it is down, or it does not allow this origin (CORS_ORIGINS).`
    })
  }
  const freshCsrf = res.headers.get('x-csrf-token')
  if (CROSS_ORIGIN && freshCsrf !== null) localStorage.setItem(CSRF_STORE, freshCsrf)
  const data = await res.json().catch(() => null)
  if (!res.ok) throw new ApiError(res.status, data)
  // A token answer sets the csrf_token cookie (and says its value in
  // X-CSRF-Token): on this origin, no such cookie means the browser refused it.
  if (!CROSS_ORIGIN && freshCsrf !== null && readCookie('csrf_token') === undefined) throw cookiesRefused()
  // Token-issuing answers repeat the tokens in the body for non-browser
  // clients; this page relies on the cookies and drops them at once.
  if (data !== null && typeof data === 'object') {
    delete data.access
    delete data.refresh
  }
  return data
}

// The access cookie expires with its token, so a browser usually reports
// TOKEN_MISSING rather than TOKEN_EXPIRED: both mean "refresh, then retry".
// TOKEN_REVOKED too: when the session was ended elsewhere (Sessions, a
// password change) the refresh fails as well and the page shows the login.
const REFRESHABLE = new Set(['TOKEN_EXPIRED', 'TOKEN_MISSING', 'TOKEN_REVOKED'])
let refreshing = null // the refresh in flight, shared by every request that needs it
let generation = 0 // how many refreshes have succeeded

/**
 * Refreshes the session once, however many requests of this page ask at the
 * same time. Resolves true, or false when the session is over. `csrfSent` is
 * the CSRF value the failed request carried.
 */
function refreshSession (csrfSent) {
  refreshing ??= refreshAcrossTabs(csrfSent)
    .then(() => { generation++; return true }, (err) => {
      if (err.code === 'NETWORK_ERROR') throw err
      return false
    })
    .finally(() => { refreshing = null })
  return refreshing
}

// `?no-web-locks` in the page's address: tabs refresh independently (the tests
// of the service's grace window use it).
const WEB_LOCKS = navigator.locks !== undefined && !new URLSearchParams(location.search).has('no-web-locks')

/**
 * Refresh tokens rotate. Two tabs refreshing with the same cookie at once are
 * fine: the service answers a replay of a just-rotated token with the same
 * successor (REFRESH_REUSE_INTERVAL). Tabs of one origin still take turns
 * where they can (Web Locks, in secure contexts such as https and localhost),
 * which saves the second request: a tab whose CSRF value changed meanwhile
 * knows another tab refreshed already.
 */
async function refreshAcrossTabs (csrfSent) {
  const refresh = async () => {
    const now = csrfToken()
    if (now !== '' && now !== csrfSent) return
    await send('POST', '/account/token/refresh')
  }
  if (!WEB_LOCKS) return await refresh()
  return await navigator.locks.request('auth-service-refresh', refresh)
}

/**
 * An API call authenticated by the cookies. When it fails for want of a valid
 * access token, the session is refreshed once (shared with concurrent calls)
 * and the call retried once; when the refresh fails, `onSignedOut` runs.
 */
export async function request (method, path, body) {
  if (refreshing !== null) await refreshing.catch(() => {})
  const seen = generation
  const csrfSent = csrfToken()
  try {
    return await send(method, path, body)
  } catch (err) {
    if (!REFRESHABLE.has(err.code)) throw err
    // A refresh that succeeded since this call left needs no second one.
    if (generation === seen && !(await refreshSession(csrfSent))) {
      forgetCsrf()
      hooks.onSignedOut(err)
      throw err
    }
    return await send(method, path, body)
  }
}

function forgetCsrf () {
  if (CROSS_ORIGIN) localStorage.removeItem(CSRF_STORE)
}

/** What the page does when the session ends underneath it (replaced by the UI below). */
export const hooks = { onSignedOut: () => {} }

// ---------------------------------------------------------------- the page

const $ = (selector, root = document) => root.querySelector(selector)
const views = { loading: $('#loading'), signedOut: $('#signed-out'), signedIn: $('#signed-in'), reset: $('#reset') }
const noticeBox = $('#notice')
const loginForm = $('#login-form')
const joinForm = $('#join-form')

function show (view) {
  for (const [name, el] of Object.entries(views)) el.hidden = name !== view
  window.scrollTo(0, 0)
}

/** Shows an error's message next to `container`'s controls (or clears it), marking the fields it names. */
function showError (container, err) {
  const box = $('.error', container)
  box.textContent = err?.message ?? ''
  box.hidden = err === undefined
  for (const input of container.querySelectorAll('input, select')) input.removeAttribute('aria-invalid')
  for (const detail of err?.details ?? []) {
    $(`[name="${CSS.escape(detail.field)}"]`, container)?.setAttribute('aria-invalid', 'true')
  }
}

const PROFILE_FIELDS = [
  ['email', 'Email'], ['name', 'Name'], ['gender', 'Gender'], ['date_of_birth', 'Date of birth'],
  ['phone_number', 'Phone number'], ['email_verified', 'Email verified'], ['date_joined', 'Joined'], ['last_login', 'Last login'], ['id', 'User id']
]

/** The fields a user gives at join and edits later (the join and profile forms; ProfileBody in src/schemas.ts). */
const EDITABLE_FIELDS = ['name', 'gender', 'date_of_birth', 'phone_number']

function showProfile ({ message, user }) {
  $('#greeting').textContent = message
  const list = $('#profile')
  list.replaceChildren()
  for (const [key, label] of PROFILE_FIELDS) {
    const dt = document.createElement('dt')
    const dd = document.createElement('dd')
    dt.textContent = label
    dd.textContent = user[key] === null || user[key] === '' ? '—' : typeof user[key] === 'boolean' ? (user[key] ? 'yes' : 'no') : String(user[key])
    dd.dataset.field = key
    list.append(dt, dd)
  }
  fillProfileForm(user)
  showError(views.signedIn, undefined)
  show('signedIn')
}

function showSignedOut (notice) {
  clearAccountMessages()
  for (const form of [loginForm, joinForm]) {
    for (const input of form.querySelectorAll('input[type="password"]')) input.value = ''
    showError(form, undefined)
  }
  if (notice !== undefined) showError(loginForm, notice)
  show('signedOut')
  $('input[name="email"]', loginForm).focus()
}

hooks.onSignedOut = () => {
  const wasSignedIn = !views.signedIn.hidden
  showSignedOut(wasSignedIn ? new ApiError(401, { message: 'Your session has ended. Please log in again.' }) : undefined)
}

async function loadProfile () {
  showProfile(await request('GET', '/account/mypage'))
}

/** Runs `action` with `container`'s buttons disabled, showing its error there. */
async function busy (container, action) {
  const buttons = container.querySelectorAll('button')
  for (const b of buttons) b.disabled = true
  noticeBox.hidden = true
  try {
    showError(container, undefined)
    await action()
  } catch (err) {
    showError(container, err)
  } finally {
    for (const b of buttons) b.disabled = false
  }
}

function formBody (form, optional = []) {
  const data = Object.fromEntries(new FormData(form))
  for (const key of optional) {
    if (data[key] === '') delete data[key]
  }
  return data
}

loginForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(loginForm, async () => {
    offerVerificationMail(undefined)
    try {
      await request('POST', '/account/login', formBody(loginForm))
    } catch (err) {
      offerVerificationMail(err)
      // TOTP on: the password was right; the code step (mfa.js) finishes the login.
      if (err.code === 'MFA_REQUIRED') return mfa.askCode(err)
      throw err
    }
    loginForm.reset()
    await loadProfile()
  })
})

joinForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(joinForm, async () => {
    const joined = await request('POST', '/account/join', formBody(joinForm, EDITABLE_FIELDS))
    joinForm.reset()
    // EMAIL_VERIFICATION=mandatory: no session until the mailed link is followed.
    if (joined.detail !== undefined) {
      showNotice(undefined, `${joined.detail} Follow its link, then log in.`)
      return
    }
    await loadProfile()
  })
})

$('#reload-button').addEventListener('click', () => { void busy(views.signedIn, loadProfile) })

async function logout (body) {
  try {
    await request('POST', '/account/logout', body)
  } catch (err) {
    // A refresh token already revoked or gone: the session is over anyway.
    if (!err.code.startsWith('TOKEN_')) throw err
  }
  forgetCsrf()
  showSignedOut()
}

$('#logout-button').addEventListener('click', () => { void busy(views.signedIn, () => logout(undefined)) })
$('#logout-all-button').addEventListener('click', () => { void busy(views.signedIn, () => logout({ all: true })) })

// On load: a session (even one whose access token expired) shows the profile.
// Without any csrf_token cookie on this origin there is no session to find.
function showSession () {
  if (!CROSS_ORIGIN && readCookie('csrf_token') === undefined) {
    showSignedOut()
  } else {
    loadProfile().catch((err) => {
      if (views.signedOut.hidden) showSignedOut(err.code === 'TOKEN_MISSING' ? undefined : err)
    })
  }
}

// ------------------------------------------------ account lifecycle (issue 11)
// Profile editing, email change, deletion, "Forgot password?", and the links
// the service mails: `?token=…#reset` opens the new-password form,
// `?token=…#verify` confirms an address.

const forgotForm = $('#forgot-form')
const resetForm = $('#reset-form')
const profileForm = $('#profile-form')
const emailForm = $('#email-form')
const deleteForm = $('#delete-form')
const resendButton = $('#resend-button')

/** A success message inside `container` (or the page's banner), or none. */
function showNotice (container, text) {
  const box = container === undefined ? noticeBox : $('.notice', container)
  box.textContent = text ?? ''
  box.hidden = text === undefined
}

function fillProfileForm (user) {
  for (const name of EDITABLE_FIELDS) {
    profileForm.elements[name].value = user[name] ?? ''
  }
  for (const form of [profileForm, emailForm, deleteForm]) showError(form, undefined)
  for (const form of [profileForm, emailForm]) showNotice(form, undefined)
}

$('#forgot-button').addEventListener('click', () => {
  forgotForm.hidden = false
  forgotForm.elements.email.value = loginForm.elements.email.value
  forgotForm.elements.email.focus()
})

forgotForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(forgotForm, async () => {
    showNotice(forgotForm, undefined)
    const { detail } = await request('POST', '/account/password/reset', formBody(forgotForm))
    showNotice(forgotForm, detail)
  })
})

/** EMAIL_VERIFICATION=mandatory: a login refused for an unverified address offers a new link. */
function offerVerificationMail (err) {
  resendButton.hidden = err?.code !== 'EMAIL_NOT_VERIFIED'
  showNotice(loginForm, undefined)
}

resendButton.addEventListener('click', () => {
  void busy(loginForm, async () => {
    const { detail } = await request('POST', '/account/email/resend', { email: loginForm.elements.email.value })
    resendButton.hidden = true
    showNotice(loginForm, detail)
  })
})

/** The signed-out view starts without the messages of an earlier visit. */
function clearAccountMessages () {
  resendButton.hidden = true
  forgotForm.hidden = true
  for (const form of [loginForm, forgotForm]) showNotice(form, undefined)
}

resetForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(resetForm, async () => {
    await request('POST', '/account/password/reset/confirm', { token: linkToken(), new_password: resetForm.elements.new_password.value })
    resetForm.reset()
    forgetLink()
    showNotice(undefined, 'Your password has been changed; every other session was logged out.')
    await loadProfile()
  })
})

profileForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(profileForm, async () => {
    const body = formBody(profileForm)
    // An emptied field is cleared: null, but the name is a string ('').
    for (const key of EDITABLE_FIELDS) {
      if (key !== 'name' && body[key] === '') body[key] = null
    }
    await request('PATCH', '/account/mypage', body)
    await loadProfile()
    showNotice(profileForm, 'Profile saved.')
  })
})

emailForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(emailForm, async () => {
    const { detail } = await request('POST', '/account/email/change', formBody(emailForm))
    emailForm.reset()
    await loadProfile()
    showNotice(emailForm, detail)
  })
})

deleteForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(deleteForm, async () => {
    await request('DELETE', '/account/mypage', formBody(deleteForm))
    deleteForm.reset()
    forgetCsrf()
    showSignedOut()
    showNotice(undefined, 'Your account has been deleted.')
  })
})

function linkToken () {
  return new URLSearchParams(location.search).get('token') ?? ''
}

/** Drops the token from the address bar (and the history), once used. */
function forgetLink () {
  history.replaceState(null, '', location.pathname)
}

/** A mailed link: the new-password form, or the address confirmed; false when there is none. */
function openMailedLink () {
  if (linkToken() === '') return false
  if (location.hash === '#verify') {
    request('POST', '/account/email/verify', { token: linkToken() })
      .then(({ detail }) => detail, (err) => err.message)
      .then((text) => {
        forgetLink()
        showSession()
        showNotice(undefined, text)
      })
    return true
  }
  showError(resetForm, undefined)
  show('reset')
  resetForm.elements.new_password.focus()
  return true
}

// ---------------------------------------------------------- passkeys (issue 27)
// "Sign in with a passkey" (and the passkeys of this site offered in the
// email field's autofill: conditional UI), and once signed in the list of the
// user's passkeys with "Add a passkey", rename and delete. The browser's own
// JSON forms of WebAuthn (parseCreationOptionsFromJSON, toJSON) carry the
// ceremonies; where the browser lacks them, or the service answers
// PASSKEYS_UNAVAILABLE, the passkey controls stay hidden. This section only
// watches the views it joins (no change to the code above).

const passkeyLoginButton = $('#passkey-login-button')
const passkeysForm = $('#passkeys-form')
const passkeyList = $('#passkey-list')
const PASSKEYS_SUPPORTED = typeof window.PublicKeyCredential?.parseCreationOptionsFromJSON === 'function' &&
  typeof window.PublicKeyCredential?.parseRequestOptionsFromJSON === 'function'
let passkeysAvailable = PASSKEYS_SUPPORTED
let conditional = null // the AbortController of the autofill request in flight

/** A WebAuthn failure in words: the user closed the prompt, or no passkey matched. */
function ceremonyError (err) {
  if (err instanceof ApiError) return err
  if (err?.name === 'NotAllowedError') return new ApiError(400, { code: 'PASSKEY_CANCELLED', message: 'No passkey was used (the prompt was closed or timed out).' })
  if (err?.name === 'InvalidStateError') return new ApiError(409, { code: 'PASSKEY_EXISTS', message: 'This authenticator already holds a passkey for your account.' })
  return new ApiError(400, { code: 'PASSKEY_FAILED', message: `The passkey could not be used: ${err?.message ?? err}` })
}

function passkeysOff (err) {
  if (err?.code !== 'PASSKEYS_UNAVAILABLE') return false
  passkeysAvailable = false
  passkeyLoginButton.hidden = true
  passkeysForm.hidden = true
  return true
}

/** A sign-in with a passkey: `mediation` 'conditional' waits for the autofill, otherwise the browser's prompt opens. */
async function passkeySignIn (mediation, controller) {
  const options = await request('POST', '/account/passkeys/login/options', {})
  if (controller?.signal.aborted === true) return false
  let credential
  try {
    credential = await navigator.credentials.get({ publicKey: window.PublicKeyCredential.parseRequestOptionsFromJSON(options), mediation, signal: controller?.signal })
  } catch (err) {
    if (err?.name === 'AbortError') return false
    throw ceremonyError(err)
  }
  await request('POST', '/account/passkeys/login/verify', { response: credential.toJSON() })
  stopConditional()
  loginForm.reset()
  await loadProfile()
  return true
}

function stopConditional () {
  conditional?.abort()
  conditional = null
}

/** While the login form shows: the autofill request, where the browser offers it. */
async function startConditional () {
  if (!passkeysAvailable || conditional !== null) return
  if (await window.PublicKeyCredential.isConditionalMediationAvailable?.() !== true) return
  if (conditional !== null || views.signedOut.hidden) return
  const controller = conditional = new AbortController()
  passkeySignIn('conditional', controller).catch((err) => {
    if (conditional === controller) conditional = null
    if (!passkeysOff(err)) showError(loginForm, ceremonyError(err))
  })
}

passkeyLoginButton.addEventListener('click', () => {
  stopConditional() // one WebAuthn request at a time
  void busy(loginForm, async () => {
    try {
      await passkeySignIn(undefined)
    } catch (err) {
      if (passkeysOff(err)) throw new ApiError(501, { message: 'Passkeys are not available on this service.' })
      throw err
    }
  })
})

/** A button of a passkey's row: `act` (the request), then the list again and `done` said. */
function passkeyAction (label, className, done, act) {
  const button = document.createElement('button')
  button.type = 'button'
  button.className = className
  button.textContent = label
  button.addEventListener('click', () => {
    void busy(passkeysForm, async () => {
      await act()
      await loadPasskeys()
      showNotice(passkeysForm, done)
    })
  })
  return button
}

function passkeyItem (passkey) {
  const li = document.createElement('li')
  li.dataset.passkeyId = passkey.id
  const name = document.createElement('input')
  name.name = 'passkey-name'
  name.maxLength = 64
  name.value = passkey.name
  name.setAttribute('aria-label', 'Passkey name')
  const meta = document.createElement('small')
  meta.className = 'muted'
  meta.textContent = ` added ${passkey.created_at.slice(0, 10)}, ${passkey.last_used_at === null ? 'never used' : `last used ${passkey.last_used_at.slice(0, 10)}`}${passkey.backed_up ? ', synced' : ''} `
  const rename = passkeyAction('Rename', 'secondary', 'Passkey renamed.', () =>
    request('PATCH', `/account/passkeys/${encodeURIComponent(passkey.id)}`, { name: name.value }))
  const remove = passkeyAction('Delete', 'danger', 'Passkey deleted.', () =>
    request('DELETE', `/account/passkeys/${encodeURIComponent(passkey.id)}`))
  li.append(name, meta, rename, remove)
  return li
}

async function loadPasskeys () {
  let passkeys
  try {
    ({ passkeys } = await request('GET', '/account/passkeys'))
  } catch (err) {
    if (passkeysOff(err)) return
    throw err
  }
  passkeyList.replaceChildren(...passkeys.map(passkeyItem))
  passkeysForm.hidden = false
}

passkeysForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void busy(passkeysForm, async () => {
    showNotice(passkeysForm, undefined)
    const options = await request('POST', '/account/passkeys/register/options')
    let credential
    try {
      credential = await navigator.credentials.create({ publicKey: window.PublicKeyCredential.parseCreationOptionsFromJSON(options) })
    } catch (err) {
      throw ceremonyError(err)
    }
    const name = passkeysForm.elements.name.value.trim()
    await request('POST', '/account/passkeys/register/verify', { response: credential.toJSON(), ...(name === '' ? {} : { name }) })
    passkeysForm.reset()
    await loadPasskeys()
    showNotice(passkeysForm, 'Passkey added: you can now sign in with it.')
  })
})

// The views are switched by the code above; this follows them.
function followViews () {
  if (!views.signedIn.hidden && passkeysAvailable) {
    showError(passkeysForm, undefined)
    void loadPasskeys().catch((err) => showError(passkeysForm, err))
  }
  if (!views.signedOut.hidden) void startConditional()
  else stopConditional()
}
if (PASSKEYS_SUPPORTED) {
  passkeyLoginButton.hidden = false
  const watcher = new window.MutationObserver(followViews)
  for (const view of [views.signedIn, views.signedOut]) watcher.observe(view, { attributes: true, attributeFilter: ['hidden'] })
}

// ------------------------------------------------- second factor (issue 25): mfa.js
const mfa = setupMfa({ request, busy, showError, showNotice, loadProfile, views, loginForm })

/**
 * A social sign-in of a user with TOTP on (SOCIAL_MFA) lands here with
 * ?error=MFA_REQUIRED and the login's mfa_token in the fragment: taken out of
 * the address bar (before social.js reads ?error=), then the code step is
 * shown as after a password, once the signed-out view is.
 */
function takeSocialMfaToken () {
  const params = new URLSearchParams(location.search)
  const token = new URLSearchParams(location.hash.slice(1)).get('mfa_token')
  if (params.get('error') !== 'MFA_REQUIRED' || token === null) return null
  params.delete('error')
  history.replaceState(null, '', `${location.pathname}${params.size > 0 ? `?${params}` : ''}`)
  return token
}
const socialMfaToken = takeSocialMfaToken()
if (socialMfaToken !== null) {
  const ask = () => mfa.askCode({ body: { mfa_token: socialMfaToken } })
  if (!views.signedOut.hidden) ask()
  else {
    const watcher = new window.MutationObserver(() => {
      if (views.signedOut.hidden) return
      watcher.disconnect()
      ask()
    })
    watcher.observe(views.signedOut, { attributes: true, attributeFilter: ['hidden'] })
  }
}

if (!openMailedLink()) showSession()

// Social login's buttons and linked accounts (public/social.js), loaded beside
// the page: a copy of the page without that file (an older deployment of it)
// works on without them.
import('./social.js').catch(() => {})
