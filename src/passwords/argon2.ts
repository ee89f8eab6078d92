type Argon2 = typeof import('@node-rs/argon2')

let argon2: Promise<Argon2> | undefined

/**
 * @node-rs/argon2, loaded at the first hash or verification rather than at
 * start: loading it and its native library was 12–15 ms of a start's CPU
 * profile, at a moment when there is no password to check yet.
 */
export async function loadArgon2 (): Promise<Argon2> {
  return await (argon2 ??= import('@node-rs/argon2'))
}
