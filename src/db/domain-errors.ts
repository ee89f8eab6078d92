import type { Store } from './store.js'

type Method = (...args: unknown[]) => unknown

function guarded (method: Method, toDomain: (err: unknown) => unknown): Method {
  return (...args) => {
    let result
    try {
      result = method(...args)
    } catch (err) {
      throw toDomain(err)
    }
    return result instanceof Promise ? result.catch((err: unknown) => { throw toDomain(err) }) : result
  }
}

/**
 * The store with every method's failures passed through `toDomain` (each
 * store's errors.ts), so that no driver's error leaves a store by a method
 * that forgot to translate it: the callers (routes, the keyring, the command
 * line) see the domain's errors (src/errors.ts). A synchronous method
 * (byIdNow) stays synchronous.
 */
export function withDomainErrors (store: Store, toDomain: (err: unknown) => unknown): Store {
  const wrapped: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(store)) {
    if (typeof member === 'function') {
      wrapped[name] = guarded(member as Method, toDomain)
    } else {
      wrapped[name] = Object.fromEntries(Object.entries(member as Record<string, Method>).map(([key, method]) => [key, guarded(method, toDomain)]))
    }
  }
  return wrapped as unknown as Store
}
