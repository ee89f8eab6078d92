import t from 'tap'
import { oneLine, StorageUnavailableError, TokenInvalidError } from '../src/errors.js'

t.test('oneLine: an error for an operator, with the driver\'s reason when the storage is unavailable', async (t) => {
  const locked = new StorageUnavailableError({ cause: Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }) })
  t.equal(oneLine(locked), 'The service cannot reach its storage; try again shortly. (database is locked)')
  t.equal(oneLine(new StorageUnavailableError()), 'The service cannot reach its storage; try again shortly.', 'no cause: the message alone')
  t.equal(oneLine(new TokenInvalidError('Token is invalid.')), 'Token is invalid.', 'another error: its message, whatever its cause')
  t.equal(oneLine(new Error('first line\n    at someFrame (file.js:1:1)')), 'first line', 'one line, never a stack')
  t.equal(oneLine('thrown text'), 'thrown text')
})
