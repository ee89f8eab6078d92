import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { launchChromium } from '../helpers/browser.js'
import { testConfig } from '../helpers/app.js'

const browser = await launchChromium(t)
if (browser !== undefined) {
  t.test('/docs renders every operation in a real browser, within the service\'s CSP', async (t) => {
    const app = await buildApp(testConfig(t, { LOG_LEVEL: 'warn' }))
    t.teardown(() => app.close())
    await app.listen({ host: '127.0.0.1', port: 0 })
    const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const page = await browser.newPage()
    const problems: string[] = []
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(`${origin}/docs`)
    await page.waitForSelector('.opblock')
    const spec = await (await fetch(`${origin}/openapi.json`)).json() as { paths: Record<string, object> }
    // Swagger UI draws the methods OpenAPI names (a catch-all route may also list others).
    const drawn = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])
    const operations = Object.values(spec.paths).reduce((n, methods) => n + Object.keys(methods).filter((m) => drawn.has(m)).length, 0)
    t.equal(await page.locator('.opblock').count(), operations, 'one block per documented operation')
    t.ok(await page.locator('.opblock-summary-path', { hasText: '/account/login' }).count() > 0, 'login is listed')
    t.same(problems, [], 'no script error, no CSP violation')
  })
}
