import { readFileSync } from 'node:fs'
import { join as joinPath } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/paths.js'
import { build, join, mypage } from '../helpers/app.js'

// README's walk-through shows mypage's answer with its Korean greeting: the
// one the service gives (routes/account/mypage), for the walk-through's user.
t.test('README\'s example mypage answer is the service\'s', async (t) => {
  const app = await build(t)
  const s = await join(app, { email: 'ana@example.com', name: 'Ana' })
  const body = (await mypage(app, s.access)).body
  t.match(body, /^\{"message":"반갑습니다, ana@example\.com님!","user":\{"id":"/, 'the service\'s answer begins so')
  t.match(body, /"email":"ana@example\.com","name":"Ana",/)
  const readme = readFileSync(joinPath(projectRoot, 'README.md'), 'utf8')
  const shown = /^# → (\{"message":.*)$/m.exec(readme)?.[1] ?? ''
  t.match(shown, /^\{"message":"반갑습니다, ana@example\.com님!","user":\{"id":"…","email":"ana@example\.com","name":"Ana",…\}\}$/, 'README shows the same answer')
})
