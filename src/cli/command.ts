import type { ParseArgsConfig } from 'node:util'
import type { Config } from '../config.js'

/** A failure the operator can act on: printed as one line, no stack; `exitCode` 1 (failed) or 2 (usage). */
export class CliError extends Error {
  constructor (message: string, readonly exitCode: 1 | 2 = 1) {
    super(message)
    this.name = 'CliError'
  }
}

export interface CommandContext {
  /** Parsed options (node:util parseArgs `values`). */
  values: Record<string, string | boolean | Array<string | boolean> | undefined>
  /** Words after the command's own name. */
  positionals: string[]
  /** The server's configuration, read from the environment on first use. */
  config: () => Config
  /** Standard output (results) and standard error (progress, warnings). */
  out: (line: string) => void
  err: (line: string) => void
  /** True when standard output/error is a terminal (progress bars, prompts). */
  isTTY: boolean
  /** Rewrites the current line of standard error (progress bars, on a terminal only). */
  progress?: (text: string) => void
  /** Reads a line from the terminal without echo (password prompts); undefined without a terminal. */
  prompt?: (question: string) => Promise<string>
}

export interface Command {
  /** Words that name it: `migrate`, `keys rotate`, `users create`. */
  name: string
  summary: string
  /** Usage lines after the name, e.g. `--email E [--staff]`. */
  usage: string
  /** Longer help: what it does, each option. */
  help: string
  options?: ParseArgsConfig['options']
  /** Extra positional words allowed (0 by default). */
  positionals?: number
  /** Returns the exit code (0 on success). */
  run: (ctx: CommandContext) => Promise<number>
}
