/** A UNIQUE or PRIMARY KEY constraint refused the write (an email taken, an id stored already). */
export function isUniqueViolation (err: unknown): boolean {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' ||
        (e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return true
  }
  return false
}
