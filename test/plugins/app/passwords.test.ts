import t from 'tap'
import { build, join, mypage, PASSWORD, post } from '../../helpers/app.js'

// The hashing queue's bound (PRESSURE_MAX_HASH_QUEUE) is this plugin's: it sheds logins, nothing else.
t.test('load shedding: a full hash queue refuses logins with 503 + Retry-After, other routes keep working', async (t) => {
  const app = await build(t, { PRESSURE_MAX_HASH_QUEUE: '1' })
  const s = await join(app)
  // More logins at once than one hashing slot plus one waiting place.
  const answers = await Promise.all(Array.from({ length: 8 }, async () => await post(app, '/account/login', { email: s.email, password: PASSWORD })))
  const shed = answers.filter((r) => r.statusCode === 503)
  t.ok(shed.length > 0, `some logins shed (${shed.length} of 8)`)
  t.ok(answers.some((r) => r.statusCode === 200), 'the others are served')
  for (const r of shed) {
    t.match(r.json(), { statusCode: 503, error: 'Service Unavailable', code: 'SERVICE_UNAVAILABLE' })
    t.equal(r.headers['retry-after'], '2')
  }
  // An unknown email is shed the same way: overload reveals no account.
  const unknownEmails = await Promise.all(Array.from({ length: 8 }, async (_, i) => await post(app, '/account/login', { email: `nobody${i}@example.com`, password: PASSWORD })))
  t.ok(unknownEmails.every((r) => r.statusCode === 401 || r.statusCode === 503))
  const shedUnknown = unknownEmails.filter((r) => r.statusCode === 503)
  t.ok(shedUnknown.length > 0, `unknown emails are shed too (${shedUnknown.length} of 8): they wait for the same hashing slot`)
  for (const r of shedUnknown) t.equal(r.headers['retry-after'], '2')
  t.equal((await mypage(app, s.access)).statusCode, 200)
})
