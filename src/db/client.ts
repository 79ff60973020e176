import { PrismaPg } from '@prisma/adapter-pg';
import { Pool } from 'pg';
import { PrismaClient } from '../generated/prisma/client';

export type Db = PrismaClient;
export { Prisma } from '../generated/prisma/client';

/**
 * Prisma 7 talks to PostgreSQL through the `pg` driver adapter; no query-engine binary is involved.
 *
 * A connection lost while a query runs on it outside a transaction (pg_terminate_backend, a database restart) is
 * also emitted as an 'error' event on its `pg` client, and the adapter listens only on idle clients and on those of
 * transactions: with no listener that event crashes the process (found by the chaos suite: a worker exited during a
 * burst of terminated backends). The failing query rejects anyway and its caller retries, and the pool drops the
 * broken client, so every client gets a listener that only keeps the event from being fatal.
 */
export function createDb(databaseUrl: string, poolSize = 10): Db {
  const pool = new Pool({ connectionString: databaseUrl, max: poolSize });
  pool.on('connect', (client) => client.on('error', () => undefined));
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  return new PrismaClient({ adapter });
}
