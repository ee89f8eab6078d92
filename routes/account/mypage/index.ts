import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { publicUser } from '../../../src/accounts.js'
import { errors, UserSchema } from '../../../src/schemas.js'

const mypage: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    schema: { response: { 200: Type.Object({ message: Type.String(), user: UserSchema }), ...errors(401, 403) } },
    onRequest: app.authenticate
  }, async (request) => ({
    message: `반갑습니다, ${request.user.email}님!`,
    user: publicUser(request.user)
  }))
}

export default mypage
