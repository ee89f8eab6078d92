import { createHmac } from 'node:crypto'
import { aeadOpen, aeadSeal } from '../crypto/aead.js'

/*
 * The grace window (REFRESH_REUSE_INTERVAL) answers a replayed, just-rotated
 * refresh token with the very token it was rotated into. The database keeps
 * only SHA-256 of each jti, never a token, so the successor is kept SEALED on
 * the predecessor's row: AES-256-GCM under a key derived (HKDF-SHA256) from the
 * predecessor's jti. Only whoever presents the predecessor token knows that jti;
 * a copy of the database alone opens nothing. Signature-independent: it works
 * whatever the signing algorithm (ES256 signatures are not deterministic, so
 * the successor could not be re-signed byte-for-byte from its claims).
 */

const INFO = Buffer.from('auth-service refresh successor v1')

const EXPAND = Buffer.concat([INFO, Buffer.from([1])])

/**
 * HKDF-SHA256 (RFC 5869) of the jti, empty salt, 32 bytes: extract then one
 * expand block, written as its two HMACs — the same bytes as `hkdfSync`, at a
 * fraction of its cost (hkdfSync was a tenth of a refresh's main-thread time).
 */
export function keyFor (predecessorJti: string): Buffer {
  const prk = createHmac('sha256', Buffer.alloc(0)).update(predecessorJti).digest()
  return createHmac('sha256', prk).update(EXPAND).digest()
}

/** Binds a sealed value to the two rows it links: it cannot be moved to another row. */
function aad (predecessorKey: string, successorKey: string): Buffer {
  return Buffer.from(`${predecessorKey}\n${successorKey}`)
}

/** `base64url(iv ‖ tag ‖ ciphertext)` of the successor token (src/crypto/aead.ts). */
export function sealSuccessor (predecessorJti: string, predecessorKey: string, successorKey: string, successor: string): string {
  return aeadSeal(keyFor(predecessorJti), successor, aad(predecessorKey, successorKey))
}

/** The successor token, or undefined when `sealed` was not made for this jti and these rows. */
export function openSuccessor (predecessorJti: string, predecessorKey: string, successorKey: string, sealed: string): string | undefined {
  return aeadOpen(keyFor(predecessorJti), sealed, aad(predecessorKey, successorKey))
}
