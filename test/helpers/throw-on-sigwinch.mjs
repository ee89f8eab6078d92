// Preloaded into the real server by log-flush.test.ts: SIGWINCH (a signal
// close-with-grace leaves alone) makes the process throw an exception that
// nothing catches, as a bug would.
process.on('SIGWINCH', () => {
  setImmediate(() => { throw new Error('deliberate uncaught exception (log-flush test)') })
})
