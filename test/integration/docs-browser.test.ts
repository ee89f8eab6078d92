import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { launchChromium } from '../helpers/browser.js'
import { testConfig } from '../helpers/app.js'

const browser = await launchChromium(t)
if (browser !== undefined) {
  t.test('/docs renders every operation, grouped by area, in a real browser, within the service\'s CSP', async (t) => {
    const app = await buildApp(testConfig(t, { LOG_LEVEL: 'warn' }))
    t.teardown(() => app.close())
    await app.listen({ host: '127.0.0.1', port: 0 })
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const page = await browser.newPage()
    const problems: string[] = []
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(`${origin}/docs`)
    const spec = await (await fetch(`${origin}/openapi.json`)).json() as { tags: Array<{ name: string }>, paths: Record<string, Record<string, { tags: string[] }>> }
    const operations = Object.entries(spec.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, tag: op.tags[0] ?? '' })))
    // The rendered operations themselves, not the "LOADING" spinner that
    // precedes them: one block per operation, under its area's heading.
    await page.waitForFunction((n) => document.querySelectorAll('.opblock').length === n, operations.length, { timeout: 30_000 })
    t.equal(await page.locator('.loading-container').count(), 0, 'the spinner is gone')
    for (const { name } of spec.tags) {
      const section = page.locator('.opblock-tag-section').filter({ has: page.locator(`#operations-tag-${name}`) })
      const expected = operations.filter((op) => op.tag === name)
      t.ok(expected.length > 0, `${name} has operations`)
      t.equal(await section.locator('.opblock').count(), expected.length, `${name}: its ${expected.length} operations are drawn under its heading`)
    }
    t.equal(await page.locator('#operations-tag-default').count(), 0, 'no untagged "default" group')
    t.equal(await page.locator('.opblock-summary-path', { hasText: /^\/account\/forward-auth$/ }).count(), 1, 'forward-auth drawn once')
    t.ok(await page.locator('.opblock-summary-path', { hasText: '/account/login' }).count() > 0, 'login is listed')
    t.same(problems, [], 'no script error, no CSP violation')
  })
}
