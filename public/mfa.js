// The second factor on the client page (issue 25; docs/API.md "Second factor (TOTP)"):
// at login, the code step after a MFA_REQUIRED answer; once signed in, the TOTP
// status, enrolment (QR code, key, first code, the recovery codes shown once),
// new recovery codes and turning it off. app.js hands in what it shares
// (`setupMfa` below), so this module imports nothing of it.

const $ = (selector, root = document) => root.querySelector(selector)

/** `qr_svg` as an image: an SVG in an <img> runs no script and is never parsed into the page. */
const svgImage = (svg) => `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`

/** Digits (spaces allowed) are a TOTP code; anything else is taken for a recovery code. */
const proofOf = (typed) => /^[\d\s]+$/.test(typed) ? { code: typed.replace(/\s/g, '') } : { recovery_code: typed }

export function setupMfa ({ request, busy, showError, showNotice, loadProfile, views, loginForm }) {
  const loginStep = $('#mfa-login-form')
  const section = $('#mfa-form')
  const statusLine = $('#mfa-status')
  const enrol = $('#mfa-enrol')
  const codesBox = $('#mfa-codes')
  const setupButton = $('#mfa-setup-button')
  const manage = $('#mfa-manage')
  let mfaToken = null

  // ------------------------------------------------------------ the login step

  function showLoginStep (token) {
    mfaToken = token
    loginForm.hidden = true
    loginStep.hidden = false
    loginStep.reset()
    showError(loginStep, undefined)
    loginStep.elements.code.focus()
  }

  function leaveLoginStep () {
    mfaToken = null
    loginStep.hidden = true
    loginForm.hidden = false
  }

  loginStep.addEventListener('submit', (event) => {
    event.preventDefault()
    void busy(loginStep, async () => {
      const typed = loginStep.elements.code.value.trim()
      try {
        await request('POST', '/account/login/mfa', { mfa_token: mfaToken, ...proofOf(typed) })
      } catch (err) {
        // The attempt is over (expired, or too many wrong codes): back to the password.
        if (err.code === 'MFA_TOKEN_INVALID') {
          leaveLoginStep()
          showError(loginForm, err)
          return
        }
        throw err
      }
      leaveLoginStep()
      loginForm.reset()
      await loadProfile()
    })
  })
  $('#mfa-cancel-button').addEventListener('click', leaveLoginStep)

  // ------------------------------------------------------- the signed-in part

  function showCodes (codes) {
    const list = $('#mfa-code-list')
    list.replaceChildren(...codes.map((code) => {
      const li = document.createElement('li')
      const text = document.createElement('code')
      text.textContent = code
      li.append(text)
      return li
    }))
    codesBox.hidden = false
  }

  async function loadStatus () {
    const { totp, recovery_codes_left: left } = await request('GET', '/account/mfa')
    statusLine.textContent = totp.enabled
      ? `On since ${totp.created_at.slice(0, 10)}; ${left} recovery code${left === 1 ? '' : 's'} left.`
      : 'Off: logging in asks for the password only.'
    statusLine.dataset.enabled = String(totp.enabled)
    setupButton.hidden = totp.enabled
    manage.hidden = !totp.enabled
    if (totp.enabled) enrol.hidden = true
  }

  setupButton.addEventListener('click', () => {
    void busy(section, async () => {
      showNotice(section, undefined)
      codesBox.hidden = true
      const { secret, qr_svg: qrSvg } = await request('POST', '/account/mfa/totp/setup')
      $('#mfa-qr').src = svgImage(qrSvg)
      $('#mfa-secret').textContent = secret
      enrol.hidden = false
      section.elements.code.value = ''
      section.elements.code.focus()
    })
  })

  // Enter in the code field confirms.
  section.addEventListener('submit', (event) => {
    event.preventDefault()
    if (!enrol.hidden) $('#mfa-confirm-button').click()
  })

  $('#mfa-confirm-button').addEventListener('click', () => {
    void busy(section, async () => {
      const { recovery_codes: codes } = await request('POST', '/account/mfa/totp/confirm', { code: section.elements.code.value.replace(/\s/g, '') })
      enrol.hidden = true
      await loadStatus()
      showCodes(codes)
      showNotice(section, 'Two-step verification is on. Keep the recovery codes below somewhere safe: they are shown only now.')
    })
  })

  $('#mfa-regenerate-button').addEventListener('click', () => {
    void busy(section, async () => {
      const { recovery_codes: codes } = await request('POST', '/account/mfa/recovery-codes', { password: section.elements.password.value })
      section.elements.password.value = ''
      await loadStatus()
      showCodes(codes)
      showNotice(section, 'New recovery codes: the old ones no longer work.')
    })
  })

  $('#mfa-disable-button').addEventListener('click', () => {
    void busy(section, async () => {
      const { detail } = await request('DELETE', '/account/mfa/totp', { password: section.elements.password.value })
      section.elements.password.value = ''
      codesBox.hidden = true
      await loadStatus()
      showNotice(section, detail)
    })
  })

  // The views are switched by app.js; this follows them: a new signed-in view
  // shows the status afresh (and no codes of an earlier visit).
  new window.MutationObserver(() => {
    if (!views.signedIn.hidden) {
      enrol.hidden = true
      codesBox.hidden = true
      showError(section, undefined)
      showNotice(section, undefined)
      void loadStatus().catch((err) => showError(section, err))
    }
    if (views.signedOut.hidden && mfaToken !== null) leaveLoginStep()
  }).observe(views.signedIn, { attributes: true, attributeFilter: ['hidden'] })

  return {
    /** A password login answered MFA_REQUIRED (`err.body` carries the mfa_token): ask for the code. */
    askCode (err) { showLoginStep(err.body.mfa_token) }
  }
}
