import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { publicUser } from '../../../../src/accounts/accounts.js'
import { FieldValidationError, MfaLoginCodeInvalidError } from '../../../../src/errors.js'
import { LoginMfaBody } from '../../../../src/mfa/schemas.js'
import { errors, UserWithTokens } from '../../../../src/schemas.js'
import { loginContext } from '../../../../src/sessions/sessions.js'

/**
 * POST /account/login/mfa: the second step of a password login that answered
 * MFA_REQUIRED. Limited per client IP, per user (the mfa_token's) and per
 * mfa_token (its 5th wrong code ends it).
 */
const loginMfa: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['tokens'], body: LoginMfaBody, response: { 200: UserWithTokens, ...errors(401, 403) } },
    ...app.ipLimit('login-mfa', app.config.rateLimit.loginMax),
    preHandler: app.mfaAttemptLimit
  }, async (request, reply) => {
    const { mfa_token: token, code, recovery_code: recoveryCode } = request.body
    if ((code === undefined) === (recoveryCode === undefined)) {
      throw new FieldValidationError([{ field: 'code', message: 'give exactly one of code and recovery_code' }])
    }
    try {
      const { user, tokens, method, signInMethod } = await app.accounts.loginMfa(token, code !== undefined ? { code } : { recoveryCode: recoveryCode ?? '' }, loginContext('password', request))
      if (method === 'recovery_code') request.log.info({ event: 'recovery_code_used', userId: user.id, ip: request.ip }, 'recovery code used')
      request.log.info({ event: 'login', userId: user.id, ip: request.ip, method: signInMethod, mfa: method }, 'login succeeded')
      return await reply.setAuthCookies(tokens).send({ user: publicUser(user), ...tokens })
    } catch (err) {
      if (err instanceof MfaLoginCodeInvalidError) {
        request.log.info({ event: 'mfa_failed', userId: (err as { userId?: string }).userId, method: code !== undefined ? 'totp' : 'recovery_code', ip: request.ip }, 'second factor refused')
      } else {
        request.log.info({ event: 'login_failed', code: (err as { code?: string }).code, ip: request.ip }, 'login failed')
      }
      throw err
    }
  })
}

export default loginMfa
