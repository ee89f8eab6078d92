import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page, type Response } from 'playwright-core'
import type { Test } from 'tap'
import { projectRoot } from '../../src/paths.js'
import { PASSWORD } from './app.js'

/** Debian's Chromium (npm test's pretest step installs it). */
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']

/**
 * Chromium, headless, closed when the test ends; `args` are added to the usual
 * flags. Undefined, with the test failed, when Chromium is missing: a missing
 * browser is a failure, never a skip.
 */
export async function launchChromium (t: Test, args: string[] = []): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} is missing: apt-get install -y chromium (npm test's pretest step does)`)
    return undefined
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...args] })
  t.teardown(() => browser.close())
  return browser
}

/*
 * The client page (public/index.html): its sections and forms, as the e2e tests drive them.
 */

/** A selector for the section `id` once it is shown. */
export const visible = (id: string): string => `#${id}:not([hidden])`

/** The mypage greeting the page shows a signed-in user. */
export const greetingFor = (email: string): string => `반갑습니다, ${email}님!`

/** A predicate for `page.waitForResponse`: the response to `method path`. */
export const isPath = (path: string, method = 'GET') => (res: Response): boolean =>
  new URL(res.url()).pathname === path && res.request().method() === method

/** Fills and submits the login form; resolves with the service's answer. */
export async function logIn (page: Page, email: string, password = PASSWORD): Promise<Response> {
  await page.waitForSelector(visible('signed-out'))
  await page.fill('#login-form [name="email"]', email)
  await page.fill('#login-form [name="password"]', password)
  const [res] = await Promise.all([page.waitForResponse(isPath('/account/login', 'POST')), page.click('#login-form button[type="submit"]')])
  return res
}

/** The picture of the client page at the top of docs/browser.md. */
export const SCREENSHOT = join(projectRoot, 'docs', 'screenshot.png')

/** Width and height of a PNG file (its IHDR chunk). */
export function pngSize (path: string): { width: number, height: number } {
  const head = readFileSync(path).subarray(0, 24)
  if (head.toString('latin1', 1, 4) !== 'PNG') throw new Error(`${path} is not a PNG`)
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) }
}

/**
 * docs/screenshot.png is `page`, whole. With UPDATE_SCREENSHOT=1 in the
 * environment it is rewritten from `page`; otherwise the test checks that it
 * still has the page's size, within a line or two of text (fonts differ
 * between machines), so that a page that gained or lost a form or a field
 * fails until the picture is regenerated (docs/browser.md says how).
 */
export async function checkScreenshot (t: Test, page: Page): Promise<void> {
  if (process.env.UPDATE_SCREENSHOT === '1') {
    const before = Date.now()
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    t.ok(statSync(SCREENSHOT).mtimeMs >= before - 1000, `${SCREENSHOT} rewritten`)
    return
  }
  const now = await page.evaluate(() => ({ width: window.innerWidth, height: document.documentElement.scrollHeight }))
  const shot = pngSize(SCREENSHOT)
  const hint = `docs/screenshot.png is ${shot.width}×${shot.height}, the page is now ${now.width}×${now.height}: regenerate it (UPDATE_SCREENSHOT=1, docs/browser.md)`
  t.equal(shot.width, now.width, hint)
  t.ok(Math.abs(shot.height - now.height) <= 48, hint)
}
