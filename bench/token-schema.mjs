// The cost of validating a token field (src/schemas.ts): the three keywords it
// had (NO_NUL's pattern, minLength, maxLength) against the one expression it
// has, compiled by ajv with the service's options (src/app.ts), on a
// 400-character token. The service's own expressions, from dist/ (`npm run
// build` first). `node bench/token-schema.mjs [iterations]`
import Ajv from 'ajv'
import { NO_NUL, TOKEN_MAX_LENGTH, TOKEN_TEXT } from '../dist/src/schemas.js'

const iterations = Number(process.argv[2] ?? 1_000_000)
if (!Number.isInteger(iterations) || iterations < 1) {
  process.stderr.write(`iterations must be an integer ≥ 1, got "${process.argv[2]}"\n`)
  process.exit(2)
}
const token = 'eyJhbGciOiJFZERTQSIsImtpZCI6ImFiYyJ9.' + 'x'.repeat(280) + '.' + 'y'.repeat(83)
const options = { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: true }
const body = (field) => ({ type: 'object', properties: { token: field }, required: ['token'], additionalProperties: false })
const variants = {
  'pattern + minLength + maxLength (before)': body({ type: 'string', pattern: NO_NUL, minLength: 1, maxLength: TOKEN_MAX_LENGTH }),
  'one expression (now)': body({ type: 'string', pattern: TOKEN_TEXT })
}
for (let round = 1; round <= 3; round++) {
  for (const [name, schema] of Object.entries(variants)) {
    const validate = new Ajv(options).compile(schema)
    const started = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) if (!validate({ token })) throw new Error(`${name} refused the token`)
    process.stdout.write(`round ${round}: ${name}: ${(Number(process.hrtime.bigint() - started) / iterations / 1000).toFixed(2)} µs\n`)
  }
}
