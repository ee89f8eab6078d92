// The cost of validating a token field (src/schemas.ts): the three keywords it
// had (NO_NUL's pattern, minLength, maxLength) against the one expression it
// has, compiled by ajv with the service's options (src/app.ts), on a
// 400-character token. `node bench/token-schema.mjs [iterations]`
import Ajv from 'ajv'

const iterations = Number(process.argv[2] ?? 1_000_000)
const token = 'eyJhbGciOiJFZERTQSIsImtpZCI6ImFiYyJ9.' + 'x'.repeat(280) + '.' + 'y'.repeat(83)
const options = { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: true }
const body = (field) => ({ type: 'object', properties: { token: field }, required: ['token'], additionalProperties: false })
const variants = {
  'pattern + minLength + maxLength (before)': body({ type: 'string', pattern: '^[^\\u0000]*$', minLength: 1, maxLength: 4096 }),
  'one expression (now)': body({ type: 'string', pattern: '^[^\\u0000]{1,4096}$' })
}
for (let round = 1; round <= 3; round++) {
  for (const [name, schema] of Object.entries(variants)) {
    const validate = new Ajv(options).compile(schema)
    const started = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) if (!validate({ token })) throw new Error(`${name} refused the token`)
    process.stdout.write(`round ${round}: ${name}: ${(Number(process.hrtime.bigint() - started) / iterations / 1000).toFixed(2)} µs\n`)
  }
}
