/*
 * Sessions (docs/API.md, "Sessions"): a session is a refresh-token family,
 * started by a login of some kind and named by the `sid` claim of its tokens.
 * It imports only types: the token service, the account service and the
 * routes import it.
 */
import type { Session } from '../db/store.js'

/** Where a login comes from, as its session records it. */
export interface LoginContext {
  /** `password`, `passkey`, `social:<provider>`, `cli`, `django` (a SIMPLEJWT_COMPAT exchange), … */
  method: string
  /** The request's User-Agent (cut to USER_AGENT_MAX characters by loginContext). */
  userAgent: string | null
  /** The client's address (request.ip: TRUST_PROXY's rules). */
  ip: string | null
}

/** Longest User-Agent stored: enough for any real browser's, not a place to store a megabyte. */
export const USER_AGENT_MAX = 512

/** A login's context from what a request says. */
export function loginContext (method: string, request: { headers: Record<string, string | string[] | undefined>, ip?: string }): LoginContext {
  const ua = request.headers['user-agent']
  const userAgent = typeof ua === 'string' && ua !== '' ? ua.slice(0, USER_AGENT_MAX) : null
  return { method, userAgent, ip: request.ip ?? null }
}

/** A login with no request behind it (the command line). */
export function offlineContext (method: string): LoginContext {
  return { method, userAgent: null, ip: null }
}

/** A session as GET /account/sessions shows it: times ISO 8601 (the contract's convention); `current` for the request's own. */
export function publicSession (session: Session, currentId: string | null) {
  return {
    id: session.id,
    created_at: iso(session.createdAt),
    last_used_at: iso(session.lastUsedAt),
    expires_at: iso(session.expiresAt),
    user_agent: session.userAgent,
    ip: session.ip,
    method: session.method,
    current: session.id === currentId
  }
}
export type PublicSession = ReturnType<typeof publicSession>

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString()
