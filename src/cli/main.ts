#!/usr/bin/env node
// The command line's entry point (`npm run cli -- …`, package.json's `bin`).
import { CliError } from './command.js'
import { runCli } from './run.js'

/** Reads a password from the terminal without echoing it. */
async function promptHidden (question: string): Promise<string> {
  const { stdin, stderr } = process
  stderr.write(question)
  stdin.setRawMode(true)
  stdin.resume()
  stdin.setEncoding('utf8')
  return await new Promise<string>((resolve, reject) => {
    let answer = ''
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') { done(); resolve(answer); return }
        if (ch === '\u0003') { done(); reject(new CliError('cancelled')); return }
        if (ch === '\u007f') answer = answer.slice(0, -1)
        else answer += ch
      }
    }
    const done = (): void => {
      stdin.off('data', onData)
      stdin.setRawMode(false)
      stdin.pause()
      stderr.write('\n')
    }
    stdin.on('data', onData)
  })
}

process.exitCode = await runCli(process.argv.slice(2), {
  out: (line) => { process.stdout.write(`${line}\n`) },
  err: (line) => { process.stderr.write(`${line}\n`) },
  isTTY: process.stderr.isTTY === true,
  env: process.env,
  progress: (text) => { process.stderr.write(`\r${text}\u001b[K`) },
  ...(process.stdin.isTTY ? { prompt: promptHidden } : {})
})
