import { createServer } from 'node:net'

/**
 * A loopback TCP port with nothing listening on it a moment ago: for a server
 * that must know its port before it listens, or for a server that is down.
 */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}
