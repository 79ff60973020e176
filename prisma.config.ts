import { defineConfig } from 'prisma/config';

// Prisma 7 reads the connection string from here rather than from schema.prisma.
// `prisma generate` needs no database, so a placeholder keeps it working without DATABASE_URL.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/harvest' },
});
