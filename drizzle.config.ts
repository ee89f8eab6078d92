import { defineConfig } from 'drizzle-kit'

// Only used by `npm run db:generate`; the service applies `migrations/` itself at start.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/sqlite/schema.ts',
  out: './migrations/sqlite'
})
