// Regenerates src/passwords/common-passwords.txt: the 20,000 most common
// passwords (lower-cased, ranked), from the zxcvbn-ts "common" dictionary,
// which merges public breach-frequency lists. Run: node scripts/common-passwords.mjs
import { writeFileSync } from 'node:fs'
import { dictionary } from '@zxcvbn-ts/language-common'

const seen = new Set()
for (const word of dictionary['passwords-common']) {
  const w = String(word).trim().toLowerCase()
  if (w !== '') seen.add(w)
  if (seen.size === 20000) break
}
writeFileSync(new URL('../src/passwords/common-passwords.txt', import.meta.url), [...seen].join('\n') + '\n')
console.log(`wrote ${seen.size} passwords`)
