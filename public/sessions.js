// Sessions (issue 25): the signed-in user's logins, each with "End this session".
// Loaded by app.js; fills #sessions-form (index.html) whenever the signed-in
// view shows, using app.js's `request` (cookies, CSRF and the refresh included).
import { request } from './app.js'

const form = document.querySelector('#sessions-form')
const list = document.querySelector('#session-list')
const signedIn = document.querySelector('#signed-in')

function say (selector, text) {
  const box = form.querySelector(selector)
  box.textContent = text ?? ''
  box.hidden = text === undefined
}

/** "Firefox on Linux, 203.0.113.7 — password, signed in 2026-12-06, last used 2026-12-06". */
function describe (session) {
  const where = [session.user_agent ?? 'unknown browser', session.ip ?? 'unknown address'].join(', ')
  return `${where} — ${session.method}, signed in ${session.created_at.slice(0, 16).replace('T', ' ')}, last used ${session.last_used_at.slice(0, 16).replace('T', ' ')}`
}

function item (session) {
  const li = document.createElement('li')
  li.dataset.sessionId = session.id
  const text = document.createElement('span')
  text.textContent = describe(session)
  li.append(text)
  if (session.current) {
    const mark = document.createElement('strong')
    mark.textContent = ' (this browser)'
    li.append(mark)
  }
  const end = document.createElement('button')
  end.type = 'button'
  end.className = 'danger'
  end.textContent = 'End this session'
  end.addEventListener('click', () => { void endSession(session, end) })
  li.append(' ', end)
  return li
}

async function endSession (session, button) {
  button.disabled = true
  say('.error', undefined)
  try {
    await request('DELETE', `/account/sessions/${encodeURIComponent(session.id)}`)
    // Ending this browser's own session signs it out: app.js's request sees the 401 next time.
    if (session.current) {
      await request('GET', '/account/mypage').catch(() => {})
      return
    }
    await load()
    say('.notice', 'Session ended.')
  } catch (err) {
    say('.error', err?.message ?? String(err))
  } finally {
    button.disabled = false
  }
}

async function load () {
  const { sessions } = await request('GET', '/account/sessions')
  list.replaceChildren(...sessions.map(item))
  form.hidden = false
}

// Follows the signed-in view (app.js switches it): the list is read each time it shows.
new window.MutationObserver(() => {
  if (signedIn.hidden) return
  say('.notice', undefined)
  say('.error', undefined)
  load().catch((err) => say('.error', err?.message ?? String(err)))
}).observe(signedIn, { attributes: true, attributeFilter: ['hidden'] })
