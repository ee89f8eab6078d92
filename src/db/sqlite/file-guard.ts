import { statSync } from 'node:fs'

/** The identity of a file on disk: another file at the same path has another. */
export interface FileIdentity { dev: number, ino: number }

/**
 * A check that the file at `path` is still `opened` (by default the file there
 * now), for both connections that write it (the event loop's and the rotation
 * writer's). A data directory removed or replaced (a restore) under a running
 * service would otherwise take every later write into an unlinked file:
 * acknowledged, then lost at the next start (SQLite does not notice in WAL
 * mode). Run before a write (nothing goes into a file that is gone) and after
 * it (a write that raced with the removal is not acknowledged). Fails with
 * SQLite's own code for this case, a storage failure (503).
 */
export function fileGuard (path: string, opened: FileIdentity = statSync(path)): { file: FileIdentity, check: () => void } {
  const { dev, ino } = opened
  return {
    file: { dev, ino },
    check: () => {
      let current
      try { current = statSync(path) } catch { current = undefined }
      if (current?.dev !== dev || current.ino !== ino) {
        throw Object.assign(new Error(`SQLite database ${path} was removed or replaced while in use; restart the service`), { code: 'SQLITE_READONLY_DBMOVED' })
      }
    }
  }
}
