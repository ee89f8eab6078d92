import { runCli } from '../../src/cli/run.js'

/**
 * Runs one command line in-process, capturing both streams, with a stand-in terminal when `tty` is given: `prompt` answers from
 * `tty.answers` in order, `progress` records progress-bar frames.
 */
export async function cli (argv: string[], env: NodeJS.ProcessEnv = {}, tty?: { answers: string[] }): Promise<{ code: number, out: string, err: string, frames: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const frames: string[] = []
  const answers = [...(tty?.answers ?? [])]
  const code = await runCli(argv, {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    isTTY: tty !== undefined,
    env: { LOG_LEVEL: 'silent', ...env },
    ...(tty === undefined ? {} : { prompt: async () => answers.shift() ?? '', progress: (text: string) => { frames.push(text) } })
  })
  return { code, out: out.join('\n'), err: err.join('\n'), frames }
}
