import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { freePort } from '../../bench/lib/service.js'
import { tempDir } from './app.js'

const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx'

/** nginx's main configuration around the test's own `http { }` content, everything in `dir`. */
function nginxConf (dir: string, http: string): string {
  return `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}
}
`
}

/**
 * A real nginx (/usr/sbin/nginx, or NGINX_BIN) in the foreground, its
 * configuration, pid, logs and temp files in a temp dir, stopped at teardown.
 * `http(port, dir)` gives what goes in its `http { }` block for the port
 * chosen; `ready(port)` says whether nginx itself answers there. A port taken
 * between choosing and binding it (tests run side by side) makes nginx exit:
 * it is started again on another. Never skipped: without nginx this fails
 * with the reason (pretest installs it).
 */
export async function startNginx (t: Test, http: (port: number, dir: string) => string, ready: (port: number) => Promise<boolean>): Promise<{ port: number, dir: string }> {
  const dir = tempDir(t)
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub))
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, http(port, dir)))
    const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    let running = true
    child.stderr.on('data', (chunk) => { stderr += String(chunk) })
    const exited = new Promise<void>((resolve) => {
      child.on('exit', () => { running = false; resolve() })
      child.on('error', (err) => { stderr += `${NGINX}: ${err.message}`; running = false; resolve() })
    })
    for (let i = 0; i < 100 && running; i++) {
      if (await ready(port).catch(() => false) && running) {
        t.teardown(async () => { child.kill('SIGTERM'); await exited })
        return { port, dir }
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    child.kill('SIGKILL')
    await exited
    if (attempt >= 2 || stderr.includes('ENOENT')) {
      let log = ''
      try { log = readFileSync(join(dir, 'error.log'), 'utf8') } catch {}
      throw new Error(`nginx did not start: ${stderr} ${log}`)
    }
  }
}
