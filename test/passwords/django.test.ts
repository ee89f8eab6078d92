import { scryptSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { hash as argon2Hash } from '@node-rs/argon2'
import t from 'tap'
import { DJANGO_ALGORITHMS, djangoAlgorithm, djangoHashBeyondLimits, isSupportedDjangoHash, verifyDjangoHash } from '../../src/passwords/django.js'
import { django, DJANGO_DIR, DJANGO_DUMP } from '../helpers/django-fixtures.js'

/*
 * Django hash verification on its own (src/passwords/django.ts). Hashes made
 * by Django's own hashers verify with their password and with no other; a hash
 * altered in any part (digest, salt, cost, algorithm) verifies nothing;
 * malformed or hostile imported hashes never log anybody in, never throw, and
 * never make the machine work for minutes.
 */

type Algorithm = typeof DJANGO_ALGORITHMS[number]
interface Made { algorithm: Algorithm, password: string, hash: string }

/** test/fixtures/django/make-hashes.py: three passwords per hasher, hashed by Debian's Django 3.2 (scrypt as Django 4.0 encodes it). */
const made = (JSON.parse(readFileSync(join(DJANGO_DIR, 'hashes.json'), 'utf8')) as { hashes: Made[] }).hashes

/** The import fixtures (make-fixtures.sh): the users `import django` reads, with their passwords. */
const dump = JSON.parse(readFileSync(DJANGO_DUMP, 'utf8')) as Array<{ model: string, pk: number, fields: { password: string } }>
const dumpHashOf = (id: number): string => dump.find((o) => o.model === 'accounts.user' && o.pk === id)?.fields.password ?? ''

/** `s` with the character at `i` replaced by another of the base64 and bcrypt alphabets. */
const changeAt = (i: number) => (s: string): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
/** The hash with its `$`-separated field `index` changed by `change`. */
const field = (index: number, change: (value: string) => string) => (stored: string): string => {
  const parts = stored.split('$')
  parts[index] = change(parts[index] ?? '')
  return parts.join('$')
}
const renamed = (algorithm: string) => (stored: string): string => algorithm + stored.slice(stored.indexOf('$'))

/** Ways to alter each kind of hash besides its digest, every one of which must make it verify nothing. */
const alterations: Record<Algorithm, Array<[string, (stored: string) => string]>> = {
  // pbkdf2_sha256$<iterations>$<salt>$<digest>
  pbkdf2_sha256: [['salt', field(2, changeAt(0))], ['iterations', field(1, () => '259999')], ['algorithm', renamed('pbkdf2_sha1')]],
  pbkdf2_sha1: [['salt', field(2, changeAt(0))], ['iterations', field(1, () => '259999')], ['algorithm', renamed('pbkdf2_sha256')]],
  // argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<digest>
  argon2: [['salt', field(4, changeAt(0))], ['time cost', field(3, (v) => v.replace('t=2', 't=1'))], ['variant', field(1, () => 'argon2i')]],
  // scrypt$<N>$<salt>$<r>$<p>$<digest>
  scrypt: [['salt', field(2, changeAt(0))], ['N', field(1, () => '8192')], ['r', field(3, () => '4')], ['p', field(4, () => '2')]],
  // bcrypt_sha256$$2b$<cost>$<22 salt characters><31 digest characters>
  bcrypt_sha256: [['salt', field(4, changeAt(0))], ['cost', field(3, () => '11')], ['algorithm', renamed('bcrypt')]],
  bcrypt: [['salt', field(4, changeAt(0))], ['cost', field(3, () => '11')], ['algorithm', renamed('bcrypt_sha256')]]
}

/** Other passwords, each differing from `password` within bcrypt's first 72 bytes. */
function wrongPasswords (password: string, others: string[]): string[] {
  const first = password[0] ?? ''
  const flipped = first === first.toUpperCase() ? first.toLowerCase() : first.toUpperCase()
  return [flipped + password.slice(1), password.slice(1), '', ...others.filter((p) => p !== password)]
}

t.test('the algorithm of a Django hash; argon2id PHC strings are not Django hashes', async (t) => {
  t.equal(djangoAlgorithm('pbkdf2_sha256$260000$salt$hash'), 'pbkdf2_sha256')
  t.equal(djangoAlgorithm('bcrypt_sha256$$2b$12$abc'), 'bcrypt_sha256')
  t.equal(djangoAlgorithm('$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'), undefined)
  t.ok(isSupportedDjangoHash('scrypt$16384$salt$8$1$hash'))
  t.notOk(isSupportedDjangoHash('md5$salt$hash'))
  t.notOk(isSupportedDjangoHash('!unusable'))
})

t.test('every algorithm the service verifies has hashes in both fixture sets (hashes.json: made by Django\'s hashers)', async (t) => {
  for (const algorithm of DJANGO_ALGORITHMS) {
    t.equal(made.filter((m) => m.algorithm === algorithm).length, 3, `${algorithm}: hashes.json`)
    t.ok(Object.values(django.users).some((u) => u.hash === algorithm && u.password !== null), `${algorithm}: an imported user`)
  }
})

for (const algorithm of DJANGO_ALGORITHMS) {
  t.test(`${algorithm}: Django's hashes verify with their own password and no other`, async (t) => {
    const mine = made.filter((m) => m.algorithm === algorithm)
    for (const { password, hash } of mine) {
      t.equal(djangoAlgorithm(hash), algorithm)
      t.equal(await verifyDjangoHash(hash, password), true, `${JSON.stringify(password)} verifies`)
      for (const wrong of wrongPasswords(password, mine.map((m) => m.password))) {
        t.equal(await verifyDjangoHash(hash, wrong), false, `${JSON.stringify(wrong)} does not`)
      }
    }
  })

  t.test(`${algorithm}: a hash altered in any part verifies nothing`, async (t) => {
    const { password, hash } = made.find((m) => m.algorithm === algorithm) as Made
    const digestAt = hash.length - 8 // inside the digest, clear of any base64 padding
    for (const [part, alter] of [['digest', changeAt(digestAt)] as const, ...alterations[algorithm]]) {
      const altered = alter(hash)
      t.not(altered, hash, `${part}: the hash is altered`)
      t.equal(await verifyDjangoHash(altered, password), false, `${part} altered: the right password does not verify`)
    }
  })
}

t.test('bcrypt reads only the first 72 bytes of a password, as Django\'s BCryptPasswordHasher; bcrypt_sha256 reads all', async (t) => {
  for (const { algorithm, password, hash } of made.filter((m) => m.algorithm.startsWith('bcrypt') && Buffer.byteLength(m.password) > 72)) {
    const sameStart = `${password.slice(0, 72)}-other-end`
    t.equal(await verifyDjangoHash(hash, sameStart), algorithm === 'bcrypt', `${algorithm}: a password differing after byte 72`)
  }
})

t.test('each imported user\'s hash verifies their own password only', async (t) => {
  for (const u of Object.values(django.users)) {
    if (u.password === null) continue
    t.equal(await verifyDjangoHash(dumpHashOf(u.id), u.password), true, u.hash)
    t.equal(await verifyDjangoHash(dumpHashOf(u.id), `${u.password} `), false, `${u.hash}: another password`)
  }
})

t.test('malformed hashes are false, not errors', async (t) => {
  const bad = [
    'pbkdf2_sha256$abc$salt$hash',
    'pbkdf2_sha256$0$salt$aGFzaA==',
    'pbkdf2_sha256$1000$salt$',
    'pbkdf2_sha1$1000',
    'argon2$notargon$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA',
    'argon2$argon2id$v=19$garbage',
    'scrypt$16384$salt$8$x$aGFzaA==',
    'bcrypt_sha256$$2b$12$short',
    'bcrypt$nonsense',
    'md5$salt$hash',
    ''
  ]
  for (const stored of bad) t.equal(await verifyDjangoHash(stored, 'password'), false, stored)
})

/** `verify`'s answer (or 'no answer' after 10 s) and the CPU time the process spent meanwhile, on every thread (libuv's pool, the bcrypt worker). */
async function cost (verify: Promise<boolean>): Promise<{ answer: boolean | string, cpuMs: number }> {
  const before = process.cpuUsage()
  const answer = await Promise.race([verify, sleep(10_000, 'no answer in 10 s', { ref: false })])
  const { user, system } = process.cpuUsage(before)
  return { answer, cpuMs: (user + system) / 1000 }
}

t.test('hostile costs are refused without hashing (deriving them would take from a third of a second to days)', async (t) => {
  const control = await cost(verifyDjangoHash('pbkdf2_sha256$1000000$salt$aGFzaA==', 'password'))
  t.ok(control.cpuMs > 100, `a million pbkdf2 iterations are measured (${control.cpuMs} ms)`)
  const hostile = [
    'pbkdf2_sha256$999999999$salt$aGFzaA==', // iterations far beyond any Django default
    'pbkdf2_sha1$10000001$salt$aGFzaA==', // one past the bound
    'scrypt$1048576$salt$8$1$aGFzaA==', // 1 GiB of memory
    'scrypt$16384$salt$65$1$aGFzaA==', // past the memory bound (128·N·r > 128 MiB)
    'bcrypt_sha256$$2b$31$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234', // 2^31 rounds
    'bcrypt$$2b$17$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234' // one past the bound
  ]
  for (const stored of hostile) {
    const { answer, cpuMs } = await cost(verifyDjangoHash(stored, 'password'))
    t.equal(answer, false, stored)
    t.ok(cpuMs < 100, `${stored}: refused without hashing (${cpuMs} ms of CPU)`)
  }
})

/** A Django argon2 hash from the fixtures with its costs replaced: a real salt and digest, so that only the costs can refuse it. */
const argon2With = (costs: string): string => field(3, () => costs)(made.find((m) => m.algorithm === 'argon2')?.hash ?? '')

t.test('hostile scrypt and argon2 costs are refused without hashing, just past each limit and far beyond', async (t) => {
  const control = await cost(verifyDjangoHash('scrypt$16384$salt$8$4$aGFzaA==', 'password'))
  t.ok(control.cpuMs > 100, `scrypt N·r·p = 2^19 is measured (${control.cpuMs} ms)`)
  const hostile = [
    'scrypt$16384$salt$8$17$aGFzaA==', // N·r·p one p past 2^21 (about a second of hashing)
    'scrypt$2$salt$1$1048577$aGFzaA==', // N·r·p just past 2^21 with the smallest N and r
    'scrypt$16384$salt$8$1000$aGFzaA==', // the review's hash: 33 s
    'scrypt$16384$salt$8$16000$aGFzaA==', // what the memory bound alone let through: 9 minutes
    'scrypt$131072$salt$9$1$aGFzaA==', // 128·N·r = 144 MiB, past 128 MiB (N·r·p within 2^21)
    argon2With('m=262145,t=2,p=8'), // m one KiB past 256 MiB
    argon2With('m=4194304,t=1,p=8'), // 4 GiB
    argon2With('m=65536,t=17,p=4'), // t one past 16
    argon2With('m=102400,t=1000000,p=8'), // days
    argon2With('m=262144,t=2,p=65'), // p one past 64
    argon2With('m=262144,t=2,p=4096'), // p far beyond
    argon2With('m=218454,t=15,p=8'), // m·t = 3,276,810 KiB, just past 16 times Django's 204,800
    argon2With('m=262144,t=16,p=8') // m·t: 4 GiB processed, every single cost within its own limit
  ]
  for (const stored of hostile) {
    t.ok(djangoHashBeyondLimits(stored), `${stored}: over a limit (${djangoHashBeyondLimits(stored) ?? ''})`)
    const { answer, cpuMs } = await cost(verifyDjangoHash(stored, 'password'))
    t.equal(answer, false, stored)
    t.ok(cpuMs < 100, `${stored}: refused without hashing (${cpuMs} ms of CPU)`)
  }
})

t.test('the limits accept every Django default and costs at each limit', async (t) => {
  // Every fixture Django made (defaults of Django 3.2 and of 4.0's scrypt) is within the limits.
  for (const { hash } of made) t.equal(djangoHashBeyondLimits(hash), undefined, hash.slice(0, 40))
  const atLimits = [
    'pbkdf2_sha256$10000000$salt$aGFzaA==',
    'bcrypt$$2b$16$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz01234',
    'scrypt$131072$salt$8$2$aGFzaA==', // 128·N·r = 128 MiB, N·r·p = 2^21
    argon2With('m=262144,t=12,p=64'), // m, p at their limits; m·t within
    argon2With('m=204800,t=16,p=8') // t and m·t at their limits
  ]
  for (const stored of atLimits) t.equal(djangoHashBeyondLimits(stored), undefined, stored)
  t.match(djangoHashBeyondLimits('scrypt$16384$salt$8$1000$aGFzaA=='), /^scrypt N·r·p 131072000 > 2097152$/)
  t.match(djangoHashBeyondLimits(argon2With('m=102400,t=2,p=65')), /^argon2 p 65 > 64$/)

  // Hashes in Django's formats at the limits (and Django 1.10 to 3.1's argon2i default) are computed and verify.
  const scryptHash = (N: number, r: number, p: number): string =>
    `scrypt$${N}$salt$${r}$${p}$${scryptSync('right', 'salt', 64, { N, r, p, maxmem: 512 * 1024 * 1024 }).toString('base64')}`
  const argon2iDefault = `argon2${await argon2Hash('right', { algorithm: 1, memoryCost: 512, timeCost: 2, parallelism: 2 })}`
  for (const stored of [scryptHash(16384, 8, 16), scryptHash(131072, 8, 1), argon2iDefault]) {
    t.equal(await verifyDjangoHash(stored, 'right'), true, `${stored.slice(0, 40)}: verifies`)
    t.equal(await verifyDjangoHash(stored, 'wrong'), false, `${stored.slice(0, 40)}: not with another password`)
  }
})
