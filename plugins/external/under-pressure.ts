import underPressure, { type FastifyUnderPressureOptions } from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import { OverloadedError } from '../../src/errors.js'

// While the event loop lags more than PRESSURE_MAX_EVENT_LOOP_DELAY ms (0: never),
// every request but the liveness and metrics ones is shed with a 503 +
// Retry-After in the contract's shape (plugins/app/errors.ts), instead of
// queueing without bound. The password-hash queue has its own bound
// (PRESSURE_MAX_HASH_QUEUE, src/passwords/hash.ts): it sheds logins only, so
// that a login storm never starves the other routes.
const EXEMPT = new Set(['/health', '/metrics'])

export const autoConfig = (app: FastifyInstance): FastifyUnderPressureOptions => ({
  maxEventLoopDelay: app.config.pressure.maxEventLoopDelay,
  sampleInterval: 500,
  pressureHandler: async (request) => {
    if (EXEMPT.has(request.routeOptions.url ?? '')) return
    throw new OverloadedError()
  }
})

export default underPressure
