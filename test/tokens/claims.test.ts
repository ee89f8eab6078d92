import { readFileSync } from 'node:fs'
import t from 'tap'

/*
 * Where the token concepts live: the claims module is a leaf every part may
 * import, and the token service knows nothing of Django (the simplejwt
 * exchange wraps it where the service is assembled, plugins/app/tokens.ts).
 */

const importsOf = (path: string): string[] =>
  [...readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8').matchAll(/^import .* from '([^']+)'/gm)].map((m) => m[1] ?? '')

t.test('src/tokens/claims.ts imports nothing', async (t) => {
  t.same(importsOf('src/tokens/claims.ts'), [])
})

t.test('the token service and the simplejwt exchange do not import each other', async (t) => {
  t.notOk(importsOf('src/tokens/tokens.ts').some((m) => m.includes('django')), 'tokens.ts imports nothing of src/django/')
  t.notOk(readFileSync(new URL('../../src/tokens/tokens.ts', import.meta.url), 'utf8').toLowerCase().includes('simplejwt'), 'nor mentions simplejwt')
  t.notOk(importsOf('src/django/simplejwt.ts').some((m) => m.endsWith('/tokens.js')), 'simplejwt.ts takes the claims from claims.ts')
  for (const path of ['src/keys/keyring.ts', 'src/cli/keys.ts']) {
    t.notOk(importsOf(path).some((m) => m.endsWith('tokens/tokens.js')), `${path} takes them from claims.ts`)
  }
})
