import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'
import type { Config } from './config.js'

/**
 * helmet's options for this service. The client page at `/` loads only its own
 * script and stylesheet, so the default CSP (self only) fits it.
 */
function securityHeaderOptions (config: Pick<Config, 'cookieSecure'>): HelmetOptions {
  return {
    // An auth API is never framed, and its answers never cached.
    frameguard: { action: 'deny' },
    // Plain-http deployments (COOKIE_SECURE=false) must not ask browsers to fetch
    // the page's own script over https, which is not there (localhost is exempt).
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: config.cookieSecure ? [] : null } }
  }
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
export function securityHeaders (config: Pick<Config, 'cookieSecure'>): Record<string, string> {
  let headers = computed.get(config)
  if (headers === undefined) {
    headers = helmetHeaders(securityHeaderOptions(config))
    computed.set(config, headers)
  }
  return headers
}
