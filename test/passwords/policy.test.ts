import { readFileSync } from 'node:fs'
import t from 'tap'
import { commonPasswordsFile } from '../../src/paths.js'
import { passwordProblem } from '../../src/passwords/policy.js'

t.test('the common-passwords list is a real, large data file', async (t) => {
  const words = readFileSync(commonPasswordsFile, 'utf8').trim().split('\n')
  t.ok(words.length >= 10_000, `${words.length} entries`)
  for (const w of ['password', '123456', 'qwerty', 'iloveyou', 'dragon', 'baseball']) t.ok(words.includes(w), w)
})

t.test('rules', async (t) => {
  t.equal(passwordProblem('correct-Horse-battery-9'), null)
  t.match(passwordProblem('short1!'), /too short/)
  t.match(passwordProblem('x'.repeat(129)), /too long/)
  t.match(passwordProblem('12345678901'), /entirely numeric/)
  t.match(passwordProblem('sunshine'), /too common/)
  t.match(passwordProblem('Football1'), /too common/)
  t.match(passwordProblem('jonathan.smith', { email: 'jonathan.smith@example.com' }), /similar to the email/)
  t.match(passwordProblem('smith-jonathan', { name: 'Jonathan Smith' }), /similar to the name/)
  t.equal(passwordProblem('violet-Harbor-417', { email: 'ana@example.com', name: 'Ana' }), null, 'a short name inside is not "close"')
  t.equal(passwordProblem('ñandú-pingüino-ß', {}), null, 'unicode is counted by characters')
  t.match(passwordProblem('ñandú!'), /too short/)
})
