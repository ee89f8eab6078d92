import { parseArgs, type ParseArgsConfig } from 'node:util'

/**
 * A bench script's command line, parsed by node:util; a bad one (an unknown
 * option, a missing value) is one line on standard error — node:util's first
 * sentence and the usage — and exit code 2, never a stack trace.
 */
export function parseOptions<T extends ParseArgsConfig['options']> (script: string, usage: string, options: T) {
  try {
    return parseArgs({ options, strict: true }).values
  } catch (err) {
    // e.g. "Unknown option '--numbr'. To specify a positional argument, …": its first sentence.
    usageError(script, usage.split('\n')[0] ?? usage, (err as Error).message.split(/\.\s/)[0] ?? String(err))
  }
}

/** A usage error: one line on standard error, exit code 2. */
export function usageError (script: string, usage: string, message: string): never {
  process.stderr.write(`${script}: ${message} (${usage})\n`)
  process.exit(2)
}

/**
 * The usage checks of one script: `number` reads an option's value as a
 * number (`whole`: an integer of at least 1; else any number of seconds ≥ 0,
 * at most `max`), and `fail` refuses anything else, each as `usageError`.
 */
export function usageChecks (script: string, usage: string) {
  const first = usage.split('\n')[0] ?? usage
  const fail = (message: string): never => usageError(script, first, message)
  return {
    fail,
    number (name: string, value: string, { whole = false, max = Infinity }: { whole?: boolean, max?: number } = {}): number {
      const n = Number(value)
      const ok = value.trim() !== '' && Number.isFinite(n) && n >= 0 && n <= max && (!whole || (Number.isInteger(n) && n >= 1))
      if (!ok) fail(`--${name} must be ${whole ? 'a whole number' : 'a number of seconds'}${max === Infinity ? (whole ? ' of at least 1' : '') : ` from ${whole ? 1 : 0} to ${max}`}, got "${value}"`)
      return n
    }
  }
}
