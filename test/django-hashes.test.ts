import t from 'tap'
import { djangoAlgorithm, isSupportedDjangoHash, verifyDjangoHash } from '../src/passwords/django.js'
import { django } from './django-fixtures.js'

/*
 * Django hash verification on its own: malformed or hostile imported hashes
 * never log anybody in, never throw, and never make the machine work for minutes.
 */

t.test('the algorithm of a Django hash; argon2id PHC strings are not Django hashes', async (t) => {
  t.equal(djangoAlgorithm('pbkdf2_sha256$260000$salt$hash'), 'pbkdf2_sha256')
  t.equal(djangoAlgorithm('bcrypt_sha256$$2b$12$abc'), 'bcrypt_sha256')
  t.equal(djangoAlgorithm('$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'), undefined)
  t.ok(isSupportedDjangoHash('scrypt$16384$salt$8$1$hash'))
  t.notOk(isSupportedDjangoHash('md5$salt$hash'))
  t.notOk(isSupportedDjangoHash('!unusable'))
})

t.test('malformed and hostile hashes are false, not errors', async (t) => {
  const bad = [
    'pbkdf2_sha256$abc$salt$hash',
    'pbkdf2_sha256$0$salt$aGFzaA==',
    'pbkdf2_sha256$999999999$salt$aGFzaA==', // iterations far beyond any Django default
    'pbkdf2_sha256$1000$salt$',
    'pbkdf2_sha1$1000',
    'argon2$notargon$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA',
    'argon2$argon2id$v=19$garbage',
    'scrypt$1048576$salt$8$1$aGFzaA==', // 1 GiB of memory
    'scrypt$16384$salt$8$x$aGFzaA==',
    'bcrypt_sha256$$2b$31$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234', // 2^31 rounds
    'bcrypt_sha256$$2b$12$short',
    'bcrypt$nonsense',
    'md5$salt$hash',
    ''
  ]
  for (const stored of bad) t.equal(await verifyDjangoHash(stored, 'password'), false, stored)
})

t.test('each fixture hash verifies its own password only', async (t) => {
  const { readFile } = await import('node:fs/promises')
  const { DJANGO_DUMP } = await import('./django-fixtures.js')
  const dump = JSON.parse(await readFile(DJANGO_DUMP, 'utf8')) as Array<{ model: string, pk: number, fields: { password: string } }>
  const hashOf = (id: number): string => dump.find((o) => o.model === 'accounts.user' && o.pk === id)?.fields.password ?? ''
  for (const u of Object.values(django.users)) {
    if (u.password === null) continue
    t.equal(await verifyDjangoHash(hashOf(u.id), u.password), true, u.hash)
    t.equal(await verifyDjangoHash(hashOf(u.id), `${u.password} `), false, `${u.hash}: another password`)
  }
})
