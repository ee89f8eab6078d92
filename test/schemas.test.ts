import t from 'tap'
import { bearer, build, join, PASSWORD, post } from './helpers/app.js'
import { testDatabase } from './helpers/postgres.js'

/*
 * A NUL character (U+0000) in any string field the API reads is a 400
 * VALIDATION_ERROR naming the field, refused by the schema before any store
 * sees it: the same answer on SQLite (which would store it) and PostgreSQL
 * (which refuses 0x00 in text, once a 500).
 */

const NUL = '\u0000'
const backends = {
  sqlite: async () => ({}),
  postgres: async (t: Parameters<typeof testDatabase>[0]) => ({ DATABASE_URL: await testDatabase(t), JWT_SECRET: 'nul-test-secret-0123456789abcdef-xyz' })
}

for (const [kind, env] of Object.entries(backends)) {
  t.test(`${kind}: every string field with a NUL byte is a 400 VALIDATION_ERROR naming it`, async (t) => {
    const app = await build(t, await env(t))
    const s = await join(app)
    const cases: Array<[string, string, Record<string, unknown>, Record<string, string>?]> = [
      ['/account/join', 'email', { email: `a${NUL}@example.com`, password: PASSWORD }],
      ['/account/join', 'password', { email: 'n1@example.com', password: `${PASSWORD}${NUL}` }],
      ['/account/join', 'name', { email: 'n2@example.com', password: PASSWORD, name: `Ana${NUL}` }],
      ['/account/join', 'phone_number', { email: 'n3@example.com', password: PASSWORD, phone_number: `010${NUL}1234` }],
      ['/account/login', 'email', { email: `${s.email}${NUL}`, password: PASSWORD }],
      ['/account/login', 'email', { email: NUL, password: PASSWORD }],
      ['/account/login', 'password', { email: s.email, password: `${NUL}${PASSWORD}` }],
      ['/account/token/refresh', 'refresh', { refresh: `${s.refresh}${NUL}` }],
      ['/account/token/verify', 'token', { token: `${NUL}${s.access}` }],
      ['/account/logout', 'refresh', { refresh: `${s.refresh}${NUL}` }],
      ['/account/password/change', 'old_password', { old_password: `${PASSWORD}${NUL}`, new_password: 'another-Horse-battery-7' }, bearer(s.access)],
      ['/account/password/change', 'new_password', { old_password: PASSWORD, new_password: `another-Horse${NUL}-battery-7` }, bearer(s.access)],
      ['/account/password/reset', 'email', { email: `${s.email}${NUL}` }],
      ['/account/password/reset/confirm', 'token', { token: `abc${NUL}`, new_password: 'another-Horse-battery-7' }],
      ['/account/password/reset/confirm', 'new_password', { token: 'abc', new_password: `another-Horse${NUL}-battery-7` }],
      ['/account/email/verify', 'token', { token: `${NUL}abc` }],
      ['/account/email/resend', 'email', { email: `${NUL}${s.email}` }],
      ['/account/email/change', 'new_email', { password: PASSWORD, new_email: `b${NUL}@example.com` }, bearer(s.access)],
      ['/account/email/change', 'password', { password: `${PASSWORD}${NUL}`, new_email: 'b@example.com' }, bearer(s.access)]
    ]
    for (const [url, field, body, headers] of cases) {
      const res = await post(app, url, body, headers)
      t.equal(res.statusCode, 400, `${url} ${field}: ${res.body}`)
      t.match(res.json(), { statusCode: 400, error: 'Bad Request', code: 'VALIDATION_ERROR' }, `${url} ${field}`)
      const detail = (res.json().details as Array<{ field: string, message: string }>).find((d) => d.field === field)
      t.ok(detail, `${url}: details name ${field}`)
      if (field !== 'email' && field !== 'phone_number') t.equal(detail?.message, 'must not contain NUL (\\u0000) characters')
    }
    for (const [method, field, payload] of [['PATCH', 'name', { name: `Ana${NUL}` }], ['DELETE', 'password', { password: `${PASSWORD}${NUL}` }]] as const) {
      const res = await app.inject({ method, url: '/account/mypage', payload, headers: bearer(s.access) })
      t.equal(res.statusCode, 400, `${method} /account/mypage ${field}: ${res.body}`)
      t.ok((res.json().details as Array<{ field: string }>).some((d) => d.field === field), `${method} /account/mypage: details name ${field}`)
    }
    // Nothing reached the store: the session is intact, no user was created.
    t.equal((await post(app, '/account/login', { email: s.email, password: PASSWORD })).statusCode, 200)
    t.equal((await post(app, '/account/token/refresh', { refresh: s.refresh })).statusCode, 200, 'the refresh token was not touched')
    for (const email of ['n1@example.com', 'n2@example.com', 'n3@example.com']) {
      t.equal((await post(app, '/account/login', { email, password: PASSWORD })).json().code, 'INVALID_CREDENTIALS', `${email} was not created`)
    }
  })
}
