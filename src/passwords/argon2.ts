type Argon2 = typeof import('@node-rs/argon2')

let argon2: Promise<Argon2> | undefined

/**
 * @node-rs/argon2, loaded at the first hash or verification rather than at
 * start: loading its native library is a noticeable part of a start
 * (docs/benchmarks.md, "Start"), at a moment when there is no password to
 * check yet.
 */
export async function loadArgon2 (): Promise<Argon2> {
  return await (argon2 ??= import('@node-rs/argon2'))
}
