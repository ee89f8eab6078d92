import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

// JavaScript Standard Style for TypeScript and JavaScript (neostandard).
export default [
  ...neostandard({
    ts: true,
    noJsx: true,
    ignores: [...resolveIgnoresFromGitignore(), 'migrations/**']
  }),
  {
    rules: {
      // `void promise` marks a promise deliberately left to run on its own
      // (a Fastify reply, a background task): allowed as a statement.
      'no-void': ['error', { allowAsStatement: true }],
      // It cannot see a condition changed by another task while the loop
      // awaits (`while (!stopping) await …`), which is how loops stop here.
      'no-unmodified-loop-condition': 'off'
    }
  }
]
