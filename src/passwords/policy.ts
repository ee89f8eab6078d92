import { readFileSync } from 'node:fs'
import { WeakPasswordError } from '../errors.js'
import { commonPasswordsFile } from '../paths.js'

export const MIN_LENGTH = 8
export const MAX_LENGTH = 128
/** As Django's UserAttributeSimilarityValidator. */
const MAX_SIMILARITY = 0.7

let common: Set<string> | undefined
function commonPasswords (): Set<string> {
  common ??= new Set(readFileSync(commonPasswordsFile, 'utf8').split('\n').filter((w) => w !== ''))
  return common
}

/** difflib-style ratio: 2·LCS / (|a| + |b|), 1 for equal strings. */
function similarity (a: string, b: string): number {
  if (a.length === 0 || b.length === 0) return 0
  let prev = new Array<number>(b.length + 1).fill(0)
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1).fill(0)
    for (let j = 1; j <= b.length; j++) {
      row[j] = a[i - 1] === b[j - 1] ? (prev[j - 1] ?? 0) + 1 : Math.max(prev[j] ?? 0, row[j - 1] ?? 0)
    }
    prev = row
  }
  return (2 * (prev[b.length] ?? 0)) / (a.length + b.length)
}

export interface PasswordContext { email?: string, name?: string }

/**
 * The contract's password rules. Returns the reason a password is refused, or
 * null when it is acceptable.
 */
export function passwordProblem (password: string, context: PasswordContext = {}): string | null {
  const length = [...password].length
  if (length < MIN_LENGTH) return `This password is too short. It must contain at least ${MIN_LENGTH} characters.`
  if (length > MAX_LENGTH) return `This password is too long. It must contain at most ${MAX_LENGTH} characters.`
  if (/^\d+$/.test(password)) return 'This password is entirely numeric.'
  const lower = password.trim().toLowerCase()
  if (commonPasswords().has(lower)) return 'This password is too common.'
  for (const [label, value] of [['email', context.email], ['name', context.name]] as const) {
    if (value === undefined || value === '') continue
    const v = value.toLowerCase()
    // The whole value, an email's local part, and each word of it
    // (`ana.lee@example.com` → ana.lee, ana, lee, example, com).
    const parts = [v, v.split('@')[0] ?? v, ...v.split(/[^\p{L}\p{N}]+/u).filter((p) => p.length >= 3)]
    if (parts.some((p) => similarity(lower, p) >= MAX_SIMILARITY)) {
      return `The password is too similar to the ${label}.`
    }
  }
  return null
}

/** The policy as a check: WEAK_PASSWORD with the reason (join, password change, reset, the command line). */
export function assertPasswordPolicy (password: string, context: PasswordContext = {}): void {
  const problem = passwordProblem(password, context)
  if (problem !== null) throw new WeakPasswordError(problem)
}
