import AjvCompiler from '@fastify/ajv-compiler'
import SerializerSelector from '@fastify/fast-json-stringify-compiler'
import type { FastifyServerOptions } from 'fastify'

/*
 * Fastify's own schema compilers (ajv for bodies, fast-json-stringify for
 * responses), each route's functions compiled at its first use instead of at
 * start. Compiling every route's body validator and every response serializer
 * (about a hundred: each route documents several statuses) was a tenth of the
 * start's CPU time. Once the server listens, what is left is compiled in the
 * background, one function per turn of the event loop between requests (about
 * 100 ms of CPU in all); a request that comes first compiles its own (a few
 * milliseconds, about 20 for the first body, which also builds ajv). A schema
 * that does not compile fails its route's requests (500) rather than the
 * start, which is why test/schema-compilers.test.ts compiles every route's
 * schemas (`app.schemaCompilers.compileAll()`).
 */

type Controller = NonNullable<FastifyServerOptions['schemaController']>
type Factories = NonNullable<Controller['compilersFactory']>
type Validate = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown, schemaEnv?: unknown }
type Serialize = (data: unknown) => string
/** What Fastify hands a compiler: a route's schema and where it applies. */
type Route = Record<string, unknown>
type Build<F> = (externalSchemas: unknown, options: unknown) => (route: Route) => F

/**
 * `compile`'s result, made at the first call of the returned function; until
 * then `pending` holds a way to make it now.
 */
function onFirstUse<F> (compile: () => F, pending: Set<() => unknown>): () => F {
  let made: F | undefined
  const force = (): F => {
    pending.delete(force)
    made ??= compile()
    return made
  }
  pending.add(force)
  return () => made ?? force()
}

/**
 * A validator that compiles on its first call. Fastify passes ajv its
 * parent-data context (needed for `useDefaults` on the root) only to functions
 * that have `schemaEnv`, as ajv's do; and it reads `errors` after a failure.
 */
function lazyValidator (compile: () => Validate, pending: Set<() => unknown>): Validate {
  const compiled = onFirstUse(compile, pending)
  const wrapper: Validate = (data, context) => {
    const validate = compiled()
    const result = validate(data, context)
    wrapper.errors = validate.errors
    return result
  }
  wrapper.schemaEnv = true
  return wrapper
}

function lazySerializer (compile: () => Serialize, pending: Set<() => unknown>): Serialize {
  const compiled = onFirstUse(compile, pending)
  return (data) => compiled()(data)
}

export interface LazyCompilers {
  /** For Fastify's `schemaController.compilersFactory`. */
  factories: Factories
  /** Compiles every function not compiled yet (throws what a schema's compiler throws). */
  compileAll: () => void
  /**
   * Compiles the rest one function per turn of the event loop, between
   * requests, until none is left; returns a function that stops it. A schema
   * that does not compile is left to its route's first request, which fails
   * the same way.
   */
  compileInBackground: () => () => void
  /** How many functions are not compiled yet. */
  remaining: () => number
}

export function lazySchemaCompilers (): LazyCompilers {
  /** The functions handed out and not compiled yet. */
  const pending = new Set<() => unknown>()
  // Fastify's defaults, typed here by what this file uses of them.
  const ajv = AjvCompiler() as unknown as Build<Validate>
  const fjs = SerializerSelector() as unknown as Build<Serialize>
  const buildValidator: Build<Validate> = (externalSchemas, options) => {
    // ajv itself (formats, keywords) is made with the first validator compiled.
    let compiler: ((route: Route) => Validate) | undefined
    return (route) => lazyValidator(() => (compiler ??= ajv(externalSchemas, options))(route), pending)
  }
  const buildSerializer: Build<Serialize> = (externalSchemas, options) => {
    let compiler: ((route: Route) => Serialize) | undefined
    return (route) => lazySerializer(() => (compiler ??= fjs(externalSchemas, options))(route), pending)
  }
  return {
    // The functions returned are the defaults' own once compiled.
    factories: { buildValidator, buildSerializer } as unknown as Factories,
    compileAll: () => { for (const compile of [...pending]) compile() },
    compileInBackground: () => {
      let timer: NodeJS.Immediate | undefined
      const step = (): void => {
        const next = pending.values().next()
        if (next.done === true) { timer = undefined; return }
        try { next.value() } catch { pending.delete(next.value) }
        timer = setImmediate(step)
      }
      timer = setImmediate(step)
      return () => { if (timer !== undefined) clearImmediate(timer) }
    },
    remaining: () => pending.size
  }
}
