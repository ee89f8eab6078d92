import { TokenError } from 'fast-jwt'
import t from 'tap'
import { StorageUnavailableError, TokenExpiredError, TokenInvalidError, TokenMissingError } from '../../../src/errors.js'
import { contractError, keyOfToken } from '../../../plugins/app/authenticate.js'
import { bearer, build, decodeJwt, forgeJwt, join } from '../../helpers/app.js'

/*
 * What @fastify/jwt reports becomes the contract's error in the authenticate
 * plugin: its own codes and fast-jwt's never reach a client.
 */

const codeOf = (err: Error): unknown => (err as { code?: unknown }).code
const fastifyJwtError = (code: string): Error => Object.assign(new Error(code), { code, statusCode: 401 })

t.test('@fastify/jwt\'s and fast-jwt\'s codes become TOKEN_MISSING, TOKEN_EXPIRED or TOKEN_INVALID', async (t) => {
  const cases: Array<[Error, string]> = [
    [fastifyJwtError('FST_JWT_NO_AUTHORIZATION_IN_HEADER'), 'TOKEN_MISSING'],
    [fastifyJwtError('FST_JWT_NO_AUTHORIZATION_IN_COOKIE'), 'TOKEN_MISSING'],
    [fastifyJwtError('FST_JWT_BAD_REQUEST'), 'TOKEN_MISSING'],
    [fastifyJwtError('FST_JWT_BAD_COOKIE_REQUEST'), 'TOKEN_MISSING'],
    [fastifyJwtError('FST_JWT_AUTHORIZATION_TOKEN_EXPIRED'), 'TOKEN_EXPIRED'],
    [new TokenError(TokenError.codes.expired, 'The token has expired.'), 'TOKEN_EXPIRED'],
    [fastifyJwtError('FST_JWT_AUTHORIZATION_TOKEN_INVALID'), 'TOKEN_INVALID'],
    [fastifyJwtError('FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED'), 'TOKEN_INVALID'],
    [fastifyJwtError('FAST_JWT_MISSING_SIGNATURE'), 'TOKEN_INVALID'],
    [new TokenError(TokenError.codes.invalidAlgorithm, 'The token algorithm is invalid.'), 'TOKEN_INVALID'],
    [new TokenError(TokenError.codes.inactive, 'The token will be active later.'), 'TOKEN_INVALID'],
    [new TokenError(TokenError.codes.invalidCritHeader, 'crit'), 'TOKEN_INVALID'],
    [new RangeError('Invalid time value'), 'TOKEN_INVALID']
  ]
  for (const [err, code] of cases) {
    const mapped = contractError(err)
    t.equal(codeOf(mapped), code, `${String(codeOf(err) ?? err.name)} → ${code}`)
    t.equal((mapped as { statusCode?: unknown }).statusCode, 401)
  }
})

t.test('the contract\'s own errors pass as they are', async (t) => {
  for (const err of [new TokenMissingError(), new TokenInvalidError('Authorization header must be "Bearer" followed by exactly one token.'), new TokenExpiredError()]) {
    t.equal(contractError(err), err)
  }
})

t.test('a failure of the keyring itself is not a verdict on the token: it passes as it is', async (t) => {
  const storage = Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })
  const request = { server: { keys: { keyFor: () => { throw storage } } } }
  let reported: Error | null = null
  keyOfToken(request as never, { header: { alg: 'HS256', kid: 'k' } } as never, (err) => { reported = err })
  t.equal(reported, storage)
  t.equal(contractError(storage), storage)
  const refused = new TokenInvalidError('Token is invalid.')
  keyOfToken({ server: { keys: { keyFor: () => { throw refused } } } } as never, { header: {} } as never, (err) => { reported = err })
  t.equal(reported, refused, 'a refusal by the keyring is a verdict')
})

t.test('through the API: the keys table unreadable while looking up a new kid is 503, as any storage failure', async (t) => {
  const app = await build(t)
  const s = await join(app)
  const { header, payload } = decodeJwt(s.access)
  const unknownKid = forgeJwt({ ...header, kid: 'hs-not-a-stored-key-000' }, payload, 'some-secret-some-secret-some-secret')
  // What the store throws when its file fails (src/db/sqlite/errors.ts).
  app.store.signingKeys.list = async () => { throw new StorageUnavailableError({ cause: Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' }) }) }
  const res = await app.inject({ url: '/account/mypage', headers: bearer(unknownKid) })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'SERVICE_UNAVAILABLE')
  t.equal((await app.inject({ url: '/account/mypage', headers: bearer(s.access) })).statusCode, 200, 'known kids are not affected')
})
