import { loadConfig } from '../config';
import { createDb } from './client';
import { seed } from './seed';

/** `npm run db:seed`: create the demo catalogue and customer when missing. */
async function main(): Promise<void> {
  const { DATABASE_URL } = loadConfig();
  if (!DATABASE_URL) throw new Error('DATABASE_URL is not set');
  const db = createDb(DATABASE_URL, 2);
  await seed(db);
  await db.$disconnect();
  console.log('seeded demo products and customer');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
