/* fast-jwt's signer and verifier, for the keyring: see fastify-jwt.ts. */
export { createSigner, createVerifier } from 'fast-jwt'
