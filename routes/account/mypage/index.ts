import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { publicUser } from '../../../src/accounts/accounts.js'
import type { User } from '../../../src/db/store.js'
import { Detail, errors, PasswordBody, ProfileBody, UserSchema } from '../../../src/schemas.js'

const mypage: FastifyPluginAsyncTypebox = async (app) => {
  // The answer is a function of the user row alone: serialised once per row the
  // store remembers (frozen, shared until the user changes; see publicUser),
  // then sent as it is.
  const rendered = new WeakMap<User, string>()
  app.get('', {
    schema: { tags: ['account'], response: { 200: Type.Object({ message: Type.String(), user: UserSchema }), ...errors(401, 403) } },
    onRequest: app.authenticate
  }, (request, reply) => {
    // Not async: the answer is at hand, no promise needed.
    const user = request.user
    let body = rendered.get(user)
    if (body === undefined) {
      body = reply.serialize({ message: `반갑습니다, ${user.email}님!`, user: publicUser(user) }) as string
      if (Object.isFrozen(user)) rendered.set(user, body)
    }
    // Already serialised by the route's own serializer: sent as it is.
    void (reply as FastifyReply).type('application/json; charset=utf-8').send(body)
  })

  // dj-rest-auth's PATCH /user/: the editable profile fields, validated as at join.
  app.patch('', {
    schema: { tags: ['lifecycle'], body: ProfileBody, response: { 200: Type.Object({ user: UserSchema }), ...errors(401, 403) } },
    onRequest: app.authenticate
  }, async (request) => {
    const user = await app.accounts.updateProfile(request.user, request.body)
    request.log.info({ event: 'profile_updated', userId: user.id, fields: Object.keys(request.body) }, 'profile updated')
    return { user: publicUser(user) }
  })

  // The password in a DELETE body: Fastify parses JSON bodies on DELETE as on POST.
  app.delete('', {
    schema: { tags: ['lifecycle'], body: PasswordBody, response: { 200: Detail, ...errors(401, 403) } },
    onRequest: app.authenticate,
    preHandler: app.passwordCheckLimit
  }, async (request, reply) => {
    await app.accounts.deleteAccount(request.user, request.body.password)
    request.log.info({ event: 'account_deleted', userId: request.user.id, ip: request.ip }, 'account deleted')
    return await reply.clearAuthCookies().send({ detail: 'Account deleted.' })
  })
}

export default mypage
