import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { publicPasskey } from '../../../src/passkeys/passkeys.js'
import { PasskeyIdParams, PasskeySchema, RenameBody } from '../../../src/passkeys/schemas.js'
import { Detail, errors } from '../../../src/schemas.js'

// The signed-in user's passkeys: list, rename, remove (`/:id` here, beside the
// list, rather than a folder per parameter).
const passkeys: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    schema: { tags: ['passkeys'], response: { 200: Type.Object({ passkeys: Type.Array(PasskeySchema) }), ...errors(401, 403, 501) } },
    onRequest: app.authenticate
  }, async (request) => {
    return { passkeys: (await app.passkeys.list(request.user)).map(publicPasskey) }
  })

  app.patch('/:id', {
    schema: { tags: ['passkeys'], params: PasskeyIdParams, body: RenameBody, response: { 200: Type.Object({ passkey: PasskeySchema }), ...errors(401, 403, 404, 501) } },
    onRequest: app.authenticate
  }, async (request) => {
    const passkey = await app.passkeys.rename(request.user, request.params.id, request.body.name)
    request.log.info({ event: 'passkey_renamed', userId: request.user.id, passkeyId: passkey.id }, 'passkey renamed')
    return { passkey: publicPasskey(passkey) }
  })

  app.delete('/:id', {
    schema: { tags: ['passkeys'], params: PasskeyIdParams, response: { 200: Detail, ...errors(401, 403, 404, 409, 501) } },
    onRequest: app.authenticate
  }, async (request) => {
    await app.passkeys.remove(request.user, request.params.id)
    request.log.info({ event: 'passkey_removed', userId: request.user.id, passkeyId: request.params.id, ip: request.ip }, 'passkey removed')
    return { detail: 'Passkey removed.' }
  })
}

export default passkeys
