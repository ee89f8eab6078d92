import t from 'tap'
import { issuerOf } from '../../src/tokens/issuer.js'
import { testConfig } from '../helpers/app.js'

t.test('issuerOf: the origin of PUBLIC_URL (no path, no trailing slash)', async (t) => {
  t.equal(issuerOf({ publicUrl: 'https://auth.example.com/' }), 'https://auth.example.com')
  t.equal(issuerOf({ publicUrl: 'https://example.com/auth/' }), 'https://example.com')
  t.equal(issuerOf({ publicUrl: 'http://127.0.0.1:3000/' }), 'http://127.0.0.1:3000')
  t.equal(issuerOf({ publicUrl: 'https://auth.example.com:443/' }), 'https://auth.example.com', 'the default port is not written')
  t.equal(issuerOf(testConfig(t, { HOST: '127.0.0.1', PORT: '4000' })), 'http://127.0.0.1:4000', 'PUBLIC_URL defaults to http://HOST:PORT/')
})
