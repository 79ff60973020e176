import { loadConfig } from '../config';
import { migrate } from './migrate';

/** `npm run db:migrate`: apply pending migrations to DATABASE_URL. */
async function main(): Promise<void> {
  const { DATABASE_URL } = loadConfig();
  if (!DATABASE_URL) throw new Error('DATABASE_URL is not set');
  const applied = await migrate(DATABASE_URL);
  console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
