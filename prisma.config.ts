// Prisma 7 CLI configuration: where the multi-file schema and migrations live, and the database URL
// (Prisma 7 no longer reads it from the schema). Only migrate/introspect commands use the URL;
// `prisma generate` works without DATABASE_URL, hence no `env()` (which throws when unset).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/gatehouse' },
});
