import cluster from 'node:cluster'
import module from 'node:module'
import type { Config } from './config.js'

// Node 22 and later keep the compiled code of the modules loaded after this
// call between starts (Node 20 has no such call), hence the imports below.
if ('enableCompileCache' in module && typeof module.enableCompileCache === 'function') module.enableCompileCache()
const [{ default: closeWithGrace }, { buildApp }, { ConfigError, loadConfig }, { oneLine }, { legacySecret }, { createLogDestination }] =
  await Promise.all([import('close-with-grace'), import('./app.js'), import('./config.js'), import('./errors.js'), import('./keys/legacy-secret.js'), import('./log.js')])

let config: Config
try {
  config = loadConfig()
  // Without JWT_SECRET, the secret the keys start from is generated in the data
  // directory before anything else opens it: a directory that cannot hold it
  // is reported as the configuration it is. With JWT_KEYS_ENCRYPTION_KEY the
  // keyring keeps it sealed in the database and reads the file only until then.
  if (config.jwtKeysEncryptionKey === undefined) legacySecret(config)
} catch (err) {
  // One clear line naming the variable, no stack.
  process.stderr.write(`Invalid configuration: ${err instanceof ConfigError ? err.message : String(err)}\n`)
  process.exit(1)
}

if (config.workers > 1 && cluster.isPrimary) {
  // WORKERS=N: this process only supervises; the workers run this file again.
  const { runPrimary } = await import('./cluster.js')
  await runPrimary(config)
} else {
  // Log lines are written off the request path, in batches; what is still
  // buffered is written on shutdown below, and on any other exit by the
  // destination's own exit handler.
  const log = createLogDestination()

  let app
  try {
    app = await buildApp(config, { logStream: log.stream })
    await app.listen({ host: config.host, port: config.port })
    // The start's lines ("Server listening at …") at once, not at the first batch.
    void log.flush()
  } catch (err) {
    process.stderr.write(`Cannot start: ${oneLine(err)}\n`)
    await app?.close().catch(() => {})
    process.exit(1)
  }

  // SIGTERM/SIGINT, or an uncaught exception: stop accepting, let in-flight
  // requests finish (new ones get 503), close the database, write the last log
  // lines; give up after the grace time.
  // A worker (WORKERS > 1) is stopped by its primary with SIGTERM. Ctrl-C in a
  // terminal sends SIGINT to the whole process group as well: a worker leaves
  // that to the primary, since a second signal would make close-with-grace exit
  // at once, dropping the requests in flight.
  if (cluster.isWorker) process.on('SIGINT', () => {})
  closeWithGrace({ delay: config.shutdownGrace, ...(cluster.isWorker ? { skip: ['SIGINT'] } : {}) }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    try {
      await app.close()
    } finally {
      const dropped = log.dropped()
      if (dropped > 0) app.log.warn({ event: 'log_lines_dropped', count: dropped }, 'log lines dropped: the log was not read fast enough')
      await log.flush()
    }
  })
}
