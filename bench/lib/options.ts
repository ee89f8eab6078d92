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
