import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ensureBuilt } from '../../bench/lib/service.js'
import { projectRoot } from '../../src/paths.js'
import { tempDir } from '../helpers/app.js'
import { childEnv } from '../helpers/process.js'
import { startServer, stopServer } from '../helpers/server.js'

/*
 * README's "Try it" walk-through, run as written (curl, jq and the command
 * line) against the built service on a fresh database: every request must
 * answer 2xx, and each step's result is checked in its output.
 */

ensureBuilt(projectRoot, (line) => { t.comment(line) })

t.test('README\'s walk-through runs as written, from join to the mailed verification and password reset to logout', async (t) => {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8')
  const script = /## Try it\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1]
  t.ok(script, 'README has the walk-through')
  t.match(script, /^B=http:\/\/127\.0\.0\.1:3000$/m, 'against npm start\'s address')
  t.match(script, /jq -r \.access/, 'tokens pulled out with jq')
  t.notMatch(script, /=…/, 'no value left for the reader to fill in')

  const env = { DATABASE_URL: `file:${join(tempDir(t), 'auth.db')}` }
  const server = await startServer({ ...env, LOG_LEVEL: 'warn' }, { quiet: true, built: true })
  t.teardown(async () => { await stopServer(server, 'SIGKILL') })
  // Every request must succeed (curl --fail-with-body), any failing step stops the script.
  const prelude = 'set -euo pipefail\ncurl () { command curl --fail-with-body "$@"; }\n'
  const body = (script ?? '').replace(/^B=.*$/m, `B=${server.url}`)
  const run = spawn('bash', ['-c', prelude + body], { cwd: projectRoot, env: childEnv({ ...env, NO_COLOR: '1' }), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  run.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  run.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => run.on('close', resolve))
  t.equal(code, 0, `the script ran through\n${err}\n${out.slice(-2000)}`)
  t.match(out, /"email":"ana@example\.com"/, 'join and mypage')
  t.match(out, /HTTP\/1\.1 200 OK[\s\S]*x-auth-user-email: ana@example\.com/i, 'forward-auth')
  t.match(out, /\{"keys":\[\]\}/, 'the JWKS is empty under HS256, as the comment says')
  t.match(out, /^Subject: Confirm your email address$/m, 'mail show decodes the verification mail')
  t.match(out, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}#verify$/m, 'its link alone on a line')
  t.match(out, /"detail":"Email verified\."/, 'the mailed token verifies the address')
  t.match(out, /1\t\S+\tana@example\.com\tReset your password\n2\t\S+\tana@example\.com\tConfirm your email address$/m, 'mail list shows the reset mail first')
  t.match(out, /\{"sessions":\[\{"id":"[\w-]+",[^\]]*"method":"password","current":true\}\]\}/, 'the sessions: the password change\'s own, current')
  t.match(out, /\{"status":"ok"\}/, 'to the end')
  await stopServer(server)
})
