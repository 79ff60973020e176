import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgres } from '../../src/db/postgres-server';
import { freePort } from '../../src/lib/net';

/**
 * One real PostgreSQL for the whole test run; every test file creates its own database in it
 * (test/support/db.ts), so files run in parallel without sharing rows.
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'htd-test-pg-'));
  const port = await freePort();
  const pg = await startPostgres({ dataDir, port });
  process.env.HTD_TEST_PG_ADMIN_URL = pg.url();
  (globalThis as Record<string, unknown>).__HTD_PG__ = { stop: pg.stop, dataDir };
}
