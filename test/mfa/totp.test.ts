import { randomBytes } from 'node:crypto'
import * as OTPAuth from 'otpauth'
import t from 'tap'
import { base32Decode, base32Encode, hotp, newTotpSecret, otpauthUrl, stepAt, totpAt, verifyTotp } from '../../src/mfa/totp.js'

/*
 * TOTP (RFC 6238) against the RFC's own test vectors and against an
 * independent implementation (the `otpauth` package, a test dependency only).
 */

// RFC 6238 Appendix B, SHA-1 rows: the ASCII key "12345678901234567890", 8 digits.
const RFC_KEY = Buffer.from('12345678901234567890', 'ascii')
const RFC_VECTORS: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130']
]

t.test('RFC 6238 Appendix B (SHA-1), with digits a parameter', async (t) => {
  const secret = base32Encode(RFC_KEY)
  t.equal(secret, 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 'RFC 4648 base32 of the key')
  for (const [time, code] of RFC_VECTORS) {
    t.equal(hotp(RFC_KEY, stepAt(time), 8), code, `T=${time}`)
    t.equal(totpAt(secret, time, 8), code, `T=${time} from the base32 secret`)
    t.equal(verifyTotp(secret, code, time, 8), stepAt(time), `T=${time} verifies, at its step`)
  }
})

t.test('RFC 4226 Appendix D: HOTP values of the same key (6 digits)', async (t) => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489']
  expected.forEach((code, counter) => { t.equal(hotp(RFC_KEY, counter), code, `counter ${counter}`) })
})

t.test('base32: round trips any bytes; RFC 4648 test vectors; junk refused', async (t) => {
  for (let n = 0; n < 40; n++) {
    const bytes = randomBytes(n)
    t.same(base32Decode(base32Encode(bytes)), bytes, `${n} bytes`)
  }
  t.equal(base32Encode(Buffer.from('foobar')), 'MZXW6YTBOI')
  t.same(base32Decode('mzxw6ytboi======'), Buffer.from('foobar'), 'lower case and padding accepted')
  t.same(base32Decode('MZXW 6YTB OI'), Buffer.from('foobar'), 'spaces ignored')
  t.equal(base32Decode('MZXW1'), undefined, '1 is not base32')
})

t.test('a new secret is 160 random bits', async (t) => {
  const a = newTotpSecret()
  t.equal(base32Decode(a)?.length, 20)
  t.equal(a.length, 32)
  t.not(a, newTotpSecret())
})

t.test('agrees with the otpauth package: codes at many instants, ±1 step accepted, ±2 refused', async (t) => {
  for (let i = 0; i < 50; i++) {
    const secret = newTotpSecret()
    const time = 1_600_000_000 + Math.floor(Math.random() * 400_000_000)
    const reference = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 })
    const code = reference.generate({ timestamp: time * 1000 })
    t.equal(totpAt(secret, time), code)
    t.equal(verifyTotp(secret, code, time), stepAt(time))
    t.equal(verifyTotp(secret, code, time + 30), stepAt(time), 'one step later: still its own step')
    t.equal(verifyTotp(secret, code, time - 30), stepAt(time), 'one step earlier')
    const later = reference.generate({ timestamp: (time + 60) * 1000 })
    if (later !== code) t.equal(verifyTotp(secret, later, time), undefined, 'two steps ahead: refused')
  }
})

t.test('malformed codes are refused, never thrown on', async (t) => {
  const secret = newTotpSecret()
  const now = 1_700_000_000
  const code = totpAt(secret, now)
  t.equal(verifyTotp(secret, '', now), undefined)
  t.equal(verifyTotp(secret, code.slice(0, 5), now), undefined, 'too short')
  t.equal(verifyTotp(secret, `${code}0`, now), undefined, 'too long')
  t.equal(verifyTotp(secret, 'abcdef', now), undefined)
  t.equal(verifyTotp(secret, '１２３４５６', now), undefined, 'full-width digits')
})

t.test('the otpauth:// URL: label, secret and issuer as the otpauth package reads them', async (t) => {
  const secret = newTotpSecret()
  const url = otpauthUrl('Example Co', 'a+b@example.com', secret)
  t.match(url, /^otpauth:\/\/totp\/Example%20Co:a%2Bb%40example\.com\?secret=/)
  const parsed = OTPAuth.URI.parse(url)
  t.ok(parsed instanceof OTPAuth.TOTP)
  t.equal(parsed.issuer, 'Example Co')
  t.equal(parsed.label, 'a+b@example.com')
  t.equal(parsed.secret.base32, secret)
  t.equal((parsed as OTPAuth.TOTP).digits, 6)
  t.equal((parsed as OTPAuth.TOTP).period, 30)
})
