import pg from 'pg'

export interface ListenerOptions {
  url: string
  connectionTimeoutMillis: number
  channel: string
  /** The connection's application_name (pg_stat_activity). */
  applicationName: string
  /** A notification on `channel`, with its payload. */
  onNotification: (payload: string | undefined) => void
  /**
   * Once LISTEN is in place, before the listener counts as up: what was missed
   * while it was down is read or dropped here (notifications are not queued
   * for a connection that is not listening). May query `client`.
   */
  onListening: (client: pg.Client) => Promise<void> | void
  /** The connection was lost (also when it could not be made). */
  onLost?: () => void
  /** Told when the listener goes up or down (logged by the store plugin). */
  onListener?: (state: 'up' | 'down', err?: Error) => void
}

/**
 * A connection of its own that LISTENs on one channel, kept up: lost (an
 * error, an end, or a failed connect), it is made again after 100 ms, then
 * doubling up to 5 s. TCP keep-alive probes after 10 s of silence notice a
 * path that dies without a reset, instead of trusting it for hours. Shared by
 * the user cache and the sessions' denylist, which bypass their memory while
 * `listening` is false.
 */
export function pgListener (options: ListenerOptions) {
  const { url, connectionTimeoutMillis, channel, applicationName, onNotification, onListening, onLost, onListener } = options
  let listening = false
  let closed = false
  let started = false
  let client: pg.Client | undefined
  let retry: NodeJS.Timeout | undefined
  let attempt = 0

  const lost = (err?: Error): void => {
    const was = listening
    listening = false
    onLost?.()
    const old = client
    client = undefined
    old?.removeAllListeners('end')
    void old?.end().catch(() => {})
    if (was) onListener?.('down', err)
    if (!closed && retry === undefined) {
      retry = setTimeout(() => { retry = undefined; void connect() }, Math.min(100 * 2 ** attempt++, 5000))
      retry.unref()
    }
  }
  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis, keepAlive: true, keepAliveInitialDelayMillis: 10_000, application_name: applicationName })
    client = c
    c.on('error', (err) => { if (client === c) lost(err) })
    c.on('end', () => { if (client === c) lost() })
    c.on('notification', (msg) => { if (msg.channel === channel) onNotification(msg.payload) })
    try {
      await c.connect()
      // Listening first, then reading: a change between the two is in one or the other.
      await c.query(`LISTEN ${channel}`)
      await onListening(c)
      if (client !== c || closed) { await c.end().catch(() => {}); return }
      attempt = 0
      listening = true
      onListener?.('up')
    } catch (err) {
      if (client === c) lost(err as Error)
    }
  }

  return {
    /** Connects, once (later calls do nothing). */
    start (): void {
      if (started) return
      started = true
      void connect()
    },
    get listening (): boolean { return listening },
    async close (): Promise<void> {
      closed = true
      if (retry !== undefined) clearTimeout(retry)
      listening = false
      const c = client
      client = undefined
      await c?.end().catch(() => {})
    }
  }
}
