import { migrate, readMigrations } from '../../src/db/migrate';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('migrator', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase({ migrate: false });
  });
  afterAll(() => t.drop());

  it('when run twice, then applies each migration once and records it in the Prisma ledger', async () => {
    const first = await migrate(t.url);
    const second = await migrate(t.url);
    expect(first).toEqual(readMigrations().map((m) => m.name));
    expect(second).toEqual([]);
    const rows = await t.query<{ migration_name: string; checksum: string }>(
      'select migration_name, checksum from _prisma_migrations order by migration_name',
    );
    expect(rows).toEqual(readMigrations().map((m) => ({ migration_name: m.name, checksum: m.checksum })));
  });

  it('when stock would go negative, then the database refuses it', async () => {
    await t.query(
      `insert into products (sku, name, unit, price_cents, available, harvest_lead_days, shelf_life_days)
       values ('x', 'X', 'kg', 100, 1, 1, 1)`,
    );
    await expect(t.query(`update products set available = available - 2 where sku = 'x'`)).rejects.toThrow(
      /products_available_nonnegative/,
    );
  });
});
