import { test } from 'tap'
import { build } from '../../helpers/app.js'

test('GET /docs serves the browsable API reference (HTML) drawn from the OpenAPI document', async (t) => {
  const app = await build(t)
  const page = await app.inject({ method: 'GET', url: '/docs' })
  const html = page.statusCode === 302 ? await app.inject({ method: 'GET', url: page.headers.location as string }) : page
  t.equal(html.statusCode, 200)
  t.match(String(html.headers['content-type']), /text\/html/)
  t.match(html.body, /swagger-ui/i)
  const init = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
  t.equal(init.statusCode, 200, 'the page\'s own script is served')
  const spec = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(spec.statusCode, 200)
  t.same(spec.json().paths, (await app.inject({ method: 'GET', url: '/openapi.json' })).json().paths, 'the same document as /openapi.json')
})
