import { defineConfig } from 'drizzle-kit'

// Only used by `npm run db:generate:pg`; the service applies `migrations/postgres` itself at start.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/postgres/schema.ts',
  out: './migrations/postgres'
})
