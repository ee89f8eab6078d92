import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page, type Response } from 'playwright-core'
import type { Test } from 'tap'
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
