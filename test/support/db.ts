import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createDb, type Db } from '../../src/db/client';
import { migrate } from '../../src/db/migrate';

export interface TestDatabase {
  url: string;
  db: Db;
  /** Run raw SQL against the test database (assertions read rows, not mocks). */
  query: <T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;
  drop: () => Promise<void>;
}

function adminUrl(): string {
  const url = process.env.HTD_TEST_PG_ADMIN_URL;
  if (!url)
    throw new Error('HTD_TEST_PG_ADMIN_URL is not set: run tests through jest (global setup starts PostgreSQL).');
  return url;
}

/** A fresh database with all migrations applied, unique to the caller. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = adminUrl().replace(/\/[^/]*$/, `/${name}`);
  if (options.migrate !== false) await migrate(url);
  const db = createDb(url, 5);
  const raw = new Client({ connectionString: url });
  await raw.connect();
  return {
    url,
    db,
    query: async <T extends Record<string, unknown>>(sql: string, params?: unknown[]) =>
      (await raw.query<T>(sql, params)).rows,
    drop: async () => {
      await db.$disconnect();
      await raw.end();
      const c = new Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
