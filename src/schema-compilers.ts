import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'

/*
 * Fastify's own schema compilers (ajv for bodies, fast-json-stringify for
 * responses), each function compiled at its first use instead of at start: a
 * route's body validator at its first request with a body, the serializer of
 * each status it documents at its first answer with that status. Compiling all
 * of them (each route documents several statuses) and ajv itself would be a
 * large part of the start. Once the server listens, what is left is compiled
 * in the background, one function per turn of the event loop between
 * requests; a request that comes first compiles its own (the first body also
 * builds ajv). What it costs each request: the wrapper's call and, for a
 * refused body, copying ajv's `errors`. The compilers' packages themselves
 * (ajv, fast-json-stringify) are loaded with the first function compiled, not
 * at start.
 *
 * A schema that does not compile no longer stops the start: its requests fail
 * (500), the background compile logs it once with its route, and
 * `compileAll()` throws it — test/schema-compilers.test.ts compiles every
 * route's schemas that way.
 *
 * Fastify takes these for custom compilers, which only changes one thing:
 * it no longer lower-cases the property names of a `headers` schema. No route
 * has one; a route that adds one must write its names in lower case.
 */

type Controller = NonNullable<FastifyServerOptions['schemaController']>
type Factories = NonNullable<Controller['compilersFactory']>
type Validate = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown, schemaEnv?: unknown }
type Serialize = (data: unknown) => string
/** What Fastify hands a compiler: a route's schema and where it applies (method, url, httpPart or httpStatus). */
type Route = Record<string, unknown>
type Build<F> = (externalSchemas: unknown, options: unknown) => (route: Route) => F

/** A function not compiled yet: how to compile it now, and for which route. */
interface Waiting { force: () => unknown, route: Route }

interface Registry {
  pending: Set<Waiting>
  /** Those whose compile threw, with what it threw. */
  failed: Map<Waiting, unknown>
}

/**
 * `compile`'s result, made at the first call of the returned function; until
 * then the registry holds a way to make it now. A compile that throws throws
 * at every call (each tries again) and is kept in `failed`.
 */
function onFirstUse<F> (compile: () => F, route: Route, registry: Registry): () => F {
  let made: F | undefined
  let make: (() => F) | undefined = compile
  const waiting: Waiting = {
    route,
    force: () => {
      if (made !== undefined) return made
      try {
        made = (make as () => F)()
      } catch (err) {
        registry.pending.delete(waiting)
        registry.failed.set(waiting, err)
        throw err
      }
      registry.pending.delete(waiting)
      registry.failed.delete(waiting)
      make = undefined // the route's schema and builder are no longer needed here
      return made
    }
  }
  registry.pending.add(waiting)
  return () => made ?? (waiting.force() as F)
}

/**
 * A validator that compiles on its first call. Fastify reads `errors` after a
 * failure, and passes a validator the request as parent data (what ajv needs to
 * replace the root value, e.g. coercing it; not used here) only when it has
 * `schemaEnv`, as ajv's functions do: the wrapper says it has, so the compiled
 * function is called exactly as Fastify would call it.
 */
function lazyValidator (compile: () => Validate, route: Route, registry: Registry): Validate {
  const compiled = onFirstUse(compile, route, registry)
  const wrapper: Validate = (data, context) => {
    const validate = compiled()
    const result = validate(data, context)
    if (result === false) wrapper.errors = validate.errors
    return result
  }
  wrapper.schemaEnv = true
  return wrapper
}

function lazySerializer (compile: () => Serialize, route: Route, registry: Registry): Serialize {
  const compiled = onFirstUse(compile, route, registry)
  return (data) => compiled()(data)
}

/** Where a schema applies, for a log line or an error message: `POST /account/login body`. */
function describeRoute (route: Route): string {
  const part = route.httpPart ?? (route.httpStatus === undefined ? undefined : `response ${String(route.httpStatus)}`)
  return [route.method, route.url, part].filter((v) => v !== undefined).map(String).join(' ')
}

export interface LazyCompilers {
  /** For Fastify's `schemaController.compilersFactory`. */
  factories: Factories
  /**
   * Compiles every function not compiled yet; throws the first schema that
   * does not compile (including one that failed before), naming its route.
   */
  compileAll: () => void
  /**
   * Compiles the rest one function per turn of the event loop, between
   * requests, until none is left, starting `delayMs` from now; returns a
   * function that stops it. A schema
   * that does not compile is reported to `onError` and left to its requests,
   * which fail the same way.
   */
  compileInBackground: (onError: (err: unknown, where: string) => void, delayMs?: number) => () => void
  /** How many functions are not compiled (yet, or because their schema does not compile). */
  remaining: () => number
}

/** Both packages are CommonJS: required synchronously, from within a compile. */
const require = createRequire(import.meta.url)

export function lazySchemaCompilers (): LazyCompilers {
  const registry: Registry = { pending: new Set(), failed: new Map() }
  // Fastify's defaults (what it builds when given no compilers), typed here by
  // what this file uses of them, each made at its first compile.
  let ajv: Build<Validate> | undefined
  let fjs: Build<Serialize> | undefined
  const buildValidator: Build<Validate> = (externalSchemas, options) => {
    // ajv itself (formats, keywords) is made with the first validator compiled.
    let compiler: ((route: Route) => Validate) | undefined
    return (route) => lazyValidator(() => {
      ajv ??= (require('@fastify/ajv-compiler') as () => Build<Validate>)()
      return (compiler ??= ajv(externalSchemas, options))(route)
    }, route, registry)
  }
  const buildSerializer: Build<Serialize> = (externalSchemas, options) => {
    let compiler: ((route: Route) => Serialize) | undefined
    return (route) => lazySerializer(() => {
      fjs ??= (require('@fastify/fast-json-stringify-compiler') as () => Build<Serialize>)()
      return (compiler ??= fjs(externalSchemas, options))(route)
    }, route, registry)
  }
  const named = (err: unknown, waiting: Waiting): Error =>
    new Error(`The schema of ${describeRoute(waiting.route)} does not compile: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  return {
    // The functions returned are the defaults' own once compiled.
    factories: { buildValidator, buildSerializer } as unknown as Factories,
    compileAll: () => {
      for (const waiting of [...registry.pending]) {
        try { waiting.force() } catch { /* now in failed */ }
      }
      const failed = registry.failed.entries().next()
      if (failed.done !== true) throw named(failed.value[1], failed.value[0])
    },
    compileInBackground: (onError, delayMs = 0) => {
      let immediate: NodeJS.Immediate | undefined
      const step = (): void => {
        const next = registry.pending.values().next()
        if (next.done === true) { immediate = undefined; return }
        try {
          next.value.force()
        } catch (err) {
          onError(err, describeRoute(next.value.route))
        }
        immediate = setImmediate(step)
      }
      const start = (): void => { immediate = setImmediate(step) }
      const timeout = delayMs > 0 ? setTimeout(start, delayMs) : undefined
      if (timeout === undefined) start()
      return () => {
        if (timeout !== undefined) clearTimeout(timeout)
        if (immediate !== undefined) clearImmediate(immediate)
      }
    },
    remaining: () => registry.pending.size + registry.failed.size
  }
}
