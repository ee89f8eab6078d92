import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import { Type } from 'typebox'
import { publicPasskey } from '../../../../../src/passkeys/passkeys.js'
import { PasskeySchema, RegisterVerifyBody } from '../../../../../src/passkeys/schemas.js'
import { errors } from '../../../../../src/schemas.js'

const registerVerify: FastifyPluginAsyncTypebox = async (app) => {
  app.post('', {
    schema: { tags: ['passkeys'], body: RegisterVerifyBody, response: { 201: Type.Object({ passkey: PasskeySchema }), ...errors(401, 403, 409, 501) } },
    onRequest: app.authenticate
  }, async (request, reply) => {
    const passkey = await app.passkeys.verifyRegistration(request.user, request.body.response as RegistrationResponseJSON, request.body.name)
    request.log.info({ event: 'passkey_registered', userId: request.user.id, passkeyId: passkey.id, ip: request.ip }, 'passkey registered')
    return await reply.code(201).send({ passkey: publicPasskey(passkey) })
  })
}

export default registerVerify
