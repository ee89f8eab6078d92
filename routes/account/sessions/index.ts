import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { SessionNotFoundError } from '../../../src/errors.js'
import { Detail, errors } from '../../../src/schemas.js'
import { publicSession } from '../../../src/sessions/sessions.js'

const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()])

const SessionSchema = Type.Object({
  id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
  expires_at: Type.String({ format: 'date-time' }),
  user_agent: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  method: Type.String(),
  current: Type.Boolean()
})

// Any string: an id that is not a session of the user's is a 404, whatever it looks like.
const SessionIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) })

// The signed-in user's sessions (refresh-token families): list, end one
// (`/:id` here, beside the list, as for passkeys).
const sessions: FastifyPluginAsyncTypebox = async (app) => {
  const seconds = (): number => Math.floor(Date.now() / 1000)

  app.get('', {
    schema: { tags: ['account'], response: { 200: Type.Object({ sessions: Type.Array(SessionSchema) }), ...errors(401, 403) } },
    onRequest: app.authenticate
  }, async (request) => {
    const found = await app.store.sessions.byUser(request.user.id, seconds())
    return { sessions: found.map((s) => publicSession(s, request.sessionId)) }
  })

  app.delete('/:id', {
    schema: { tags: ['account'], params: SessionIdParams, response: { 200: Detail, ...errors(401, 403, 404) } },
    onRequest: app.authenticate
  }, async (request) => {
    if (!await app.store.sessions.end(request.user.id, request.params.id, seconds())) throw new SessionNotFoundError()
    request.log.info({ event: 'session_revoked', userId: request.user.id, sessionId: request.params.id, ip: request.ip }, 'session revoked')
    return { detail: 'Session ended.' }
  })
}

export default sessions
