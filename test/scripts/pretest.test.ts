import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { projectRoot } from '../../src/paths.js'

const ok = (cmd: string, args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0

// `npm test` ran the pretest step before this file: what the tests need is here.
test('pretest leaves the machine with what the tests need, and a second run changes nothing', async (t) => {
  t.ok(existsSync('/usr/bin/chromium'), 'chromium (browser tests)')
  t.ok(ok('nginx', ['-v']) || existsSync('/usr/sbin/nginx'), 'nginx (gateway tests)')
  t.ok(ok('/usr/bin/python3', ['-c', 'import django, rest_framework, rest_framework_simplejwt']), 'Debian\'s Django + DRF + simplejwt (fixture generator)')
  t.ok(ok('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q']), 'PostgreSQL answers on 127.0.0.1:5432')
  t.ok(ok('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping']), 'Redis answers on 127.0.0.1:6379')
  const again = execFileSync('bash', [join(projectRoot, 'scripts', 'pretest.sh')], { encoding: 'utf8' })
  t.equal(again, '', 'idempotent: nothing to install or start, nothing printed')
})
