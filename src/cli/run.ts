import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, type Config } from '../config.js'
import { oneLine } from '../errors.js'
import { CliError, type Command, type CommandContext } from './command.js'
import { commands } from './commands.js'

const PROGRAM = 'auth-service'

function overview (): string {
  const width = Math.max(...commands.map((c) => c.name.length), 4)
  return [
    `Usage: ${PROGRAM} <command> [options]   (npm run cli -- <command> [options])`,
    '',
    'The service\'s configuration (DATABASE_URL, JWT_SECRET, …) is read from the environment,',
    'as for npm start.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run "${PROGRAM} <command> --help" for a command's options.`
  ].join('\n')
}

function commandHelp (c: Command): string {
  return [`Usage: ${PROGRAM} ${c.name} ${c.usage}`.trimEnd(), '', c.summary, '', c.help.trim()].join('\n')
}

/** The command named by the longest run of leading words (`users create` before `users`). */
function findCommand (argv: string[]): { command: Command, rest: string[] } | undefined {
  let best: { command: Command, rest: string[] } | undefined
  for (const command of commands) {
    const words = command.name.split(' ')
    if (words.every((w, i) => argv[i] === w) && (best === undefined || words.length > best.command.name.split(' ').length)) {
      best = { command, rest: argv.slice(words.length) }
    }
  }
  return best
}

/**
 * For a command that takes words (an email, a key id), a word starting with "-"
 * that names none of its options is one of those words, not an unknown option:
 * key ids are base64url and may start with "-". It is passed after "--".
 */
function asPositionals (args: string[], command: Command): string[] {
  if ((command.positionals ?? 0) === 0) return args
  const flags = new Map<string, { type: string }>()
  for (const [name, option] of Object.entries(command.options ?? {})) {
    flags.set(`--${name}`, option)
    if (option.short !== undefined) flags.set(`-${option.short}`, option)
  }
  const options: string[] = []
  const words: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--') { words.push(...args.slice(i + 1)); break }
    const option = arg.startsWith('-') ? flags.get(arg.split('=')[0] as string) : undefined
    if (option === undefined) { words.push(arg); continue }
    options.push(arg)
    if (option.type === 'string' && !arg.includes('=') && i + 1 < args.length) options.push(args[++i] as string)
  }
  return words.length === 0 ? options : [...options, '--', ...words]
}

export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
  isTTY: boolean
  env: NodeJS.ProcessEnv
  progress?: (text: string) => void
  prompt?: (question: string) => Promise<string>
}

/** Runs one command line; returns the exit code (0 ok, 1 failed, 2 usage). Never throws. */
export async function runCli (argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(overview())
    return argv.length === 0 ? 2 : 0
  }
  const found = findCommand(argv)
  if (found === undefined) {
    const group = commands.filter((c) => c.name.startsWith(`${argv[0] ?? ''} `))
    if (group.length > 0 && (argv.length === 1 || argv[1] === '--help' || argv[1] === '-h')) {
      io.out([`Commands of "${argv[0] ?? ''}":`, ...group.map((c) => `  ${c.name}  ${c.summary}`)].join('\n'))
      return argv.length === 1 ? 2 : 0
    }
    io.err(`error: unknown command "${argv.slice(0, 2).join(' ')}"; "${PROGRAM} --help" lists the commands`)
    return 2
  }
  const { command, rest } = found
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(commandHelp(command))
    return 0
  }
  let parsed
  try {
    parsed = parseArgs({ args: asPositionals(rest, command), options: command.options ?? {}, allowPositionals: true, strict: true })
  } catch (err) {
    io.err(`error: ${(err as Error).message.split('\n')[0] ?? ''} ("${PROGRAM} ${command.name} --help")`)
    return 2
  }
  if (parsed.positionals.length > (command.positionals ?? 0)) {
    io.err(`error: unexpected argument "${parsed.positionals[command.positionals ?? 0] ?? ''}" ("${PROGRAM} ${command.name} --help")`)
    return 2
  }
  let config: Config | undefined
  const ctx: CommandContext = {
    values: parsed.values,
    positionals: parsed.positionals,
    config: () => (config ??= loadConfig(io.env)),
    out: io.out,
    err: io.err,
    isTTY: io.isTTY,
    ...(io.progress === undefined ? {} : { progress: io.progress }),
    ...(io.prompt === undefined ? {} : { prompt: io.prompt })
  }
  try {
    return await command.run(ctx)
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`error: ${err.message}`)
      return err.exitCode
    }
    if (err instanceof ConfigError) {
      io.err(`error: invalid configuration: ${err.message}`)
      return 1
    }
    io.err(`error: ${oneLine(err)}`)
    return 1
  }
}
