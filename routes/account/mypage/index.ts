import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { publicUser } from '../../../src/accounts/accounts.js'
import { AccountDeleteBody, Detail, errors, ProfileBody, UserSchema } from '../../../src/schemas.js'

const mypage: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    schema: { response: { 200: Type.Object({ message: Type.String(), user: UserSchema }), ...errors(401, 403) } },
    onRequest: app.authenticate
    // Not async: the answer is at hand, no promise needed.
  }, (request) => ({
    message: `반갑습니다, ${request.user.email}님!`,
    user: publicUser(request.user)
  }))

  // dj-rest-auth's PATCH /user/: the editable profile fields, validated as at join.
  app.patch('', {
    schema: { body: ProfileBody, response: { 200: Type.Object({ user: UserSchema }), ...errors(401, 403) } },
    onRequest: app.authenticate
  }, async (request) => {
    const user = await app.accounts.updateProfile(request.user, request.body)
    request.log.info({ event: 'profile_updated', userId: user.id, fields: Object.keys(request.body) }, 'profile updated')
    return { user: publicUser(user) }
  })

  // The password in a DELETE body: Fastify parses JSON bodies on DELETE as on POST.
  app.delete('', {
    schema: { body: AccountDeleteBody, response: { 200: Detail, ...errors(401, 403) } },
    onRequest: app.authenticate
  }, async (request, reply) => {
    await app.accounts.deleteAccount(request.user, request.body.password)
    request.log.info({ event: 'account_deleted', userId: request.user.id, ip: request.ip }, 'account deleted')
    return await reply.clearAuthCookies().send({ detail: 'Account deleted.' })
  })
}

export default mypage
