import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'
import type { Config } from './config.js'

/**
 * helmet's options for this service. The client page at `/` loads only its own
 * script and stylesheet, so the default CSP (self only) fits it.
 */
function securityHeaderOptions (config: HeaderConfig): HelmetOptions {
  return {
    // An auth API is never framed, and its answers never cached.
    frameguard: { action: 'deny' },
    // `upgrade-insecure-requests` only where the page is served over https
    // (PUBLIC_URL): on a plain-http host (staging, COOKIE_SECURE whatever it
    // is) it would make browsers fetch the page's own script and stylesheet
    // over https, which is not there, and the page would never start
    // (localhost is exempt, so only other hosts showed it).
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: servedOverHttps(config) ? [] : null } }
  }
}

/** What the headers depend on. */
type HeaderConfig = Pick<Config, 'publicUrl'>

/** Whether the service's public address (PUBLIC_URL) is https. */
export function servedOverHttps (config: HeaderConfig): boolean {
  return config.publicUrl.startsWith('https:')
}

/**
 * The headers helmet sets for `options`. They depend on the options alone (no
 * CSP nonces, no per-request directives), so they can be computed once.
 */
function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: unknown) { headers[name.toLowerCase()] = String(value) },
    removeHeader (name: string) { Reflect.deleteProperty(headers, name.toLowerCase()) }
  }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err !== undefined && err !== null) throw err
  })
  return headers
}

const computed = new WeakMap<object, Record<string, string>>()

/**
 * The service's security headers for `config`, computed once: the hook that
 * sets them on every route's answer and the answers given before any hook
 * runs (src/app.ts) share the same object.
 */
export function securityHeaders (config: HeaderConfig): Record<string, string> {
  let headers = computed.get(config)
  if (headers === undefined) {
    headers = helmetHeaders(securityHeaderOptions(config))
    computed.set(config, headers)
  }
  return headers
}

/**
 * The headers of the JSON API's answers (`/account/…`, `/health`, `/ready`,
 * `/openapi.json`, `/.well-known/…`, `/metrics`): the set OWASP's REST Security
 * Cheat Sheet asks of an API — a CSP that lets the answer load and frame
 * nothing, HSTS, nosniff, no framing, no referrer, same-origin resources —
 * with helmet's own values where it has one. Six headers instead of helmet's
 * thirteen: headers are validated and written one by one on every answer, and
 * the others (X-XSS-Protection, X-Download-Options, X-DNS-Prefetch-Control, …)
 * only concern HTML pages, which keep `securityHeaders`.
 */
export function apiSecurityHeaders (config: HeaderConfig): Record<string, string> {
  const page = securityHeaders(config)
  const pick = (name: string): Record<string, string> => page[name] === undefined ? {} : { [name]: page[name] }
  return {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    ...pick('strict-transport-security'),
    ...pick('x-content-type-options'),
    ...pick('x-frame-options'),
    ...pick('referrer-policy'),
    ...pick('cross-origin-resource-policy')
  }
}

/** Request paths (a query string allowed) of the JSON API: all but the client page, its files and /docs. */
export const API_PATHS = /^\/(?:account(?:[/?]|$)|(?:health|ready|openapi\.json|metrics)(?:\?|$)|\.well-known\/)/
