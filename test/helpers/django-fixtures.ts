import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The committed fixtures of test/fixtures/django/make-fixtures.sh (made with Django 3.2 + simplejwt). */
export const DJANGO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'django')
export const DJANGO_DB = join(DJANGO_DIR, 'db.sqlite3')
export const DJANGO_DUMP = join(DJANGO_DIR, 'dumpdata.json')

interface FixtureUser { id: number, email: string | null, username: string, password: string | null, hash: string }
export const django = JSON.parse(readFileSync(join(DJANGO_DIR, 'tokens.json'), 'utf8')) as {
  signing_key: string
  users: Record<'alice' | 'bob' | 'carol' | 'dave' | 'erin' | 'frank' | 'grace' | 'henry' | 'ivan' | 'jane' | 'kate', FixtureUser>
  refresh: Record<'alice' | 'bob' | 'carol' | 'erin_inactive' | 'expired' | 'unknown_user' | 'blacklisted' | 'other_key', string>
  access: { alice: string }
}
