import { MockActivityEnvironment } from '@temporalio/testing';
import { Client } from 'pg';
import { createActivities, type Activities } from '../../src/activities';
import { seed } from '../../src/db/seed';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { demoOrder, progressAt } from '../support/orders';
import { sandboxProviders } from '../support/providers';

/**
 * Lock modes of the stock steps. Every order that is being recorded or reserved inserts rows that reference the
 * product rows (order_lines, reservations), and PostgreSQL's foreign-key check holds FOR KEY SHARE on each product
 * until that transaction ends, taken in the order of the order's lines. A stock step that locked product rows
 * FOR UPDATE (which conflicts with KEY SHARE) waited on those checks, and against an order whose lines came in
 * another sku order it deadlocked: the benchmark logged 95 deadlocks in one run. Updating stock needs only FOR NO
 * KEY UPDATE, which lets foreign-key checks through.
 *
 * Each test holds KEY SHARE on the products in an open transaction, exactly what an uncommitted order insert holds,
 * and runs a stock step of another order. The step must finish; if it waits for a lock instead, the test fails at
 * once (it polls pg_locks for the waiting lock) rather than timing out.
 */
describe('activities: stock steps and concurrent foreign-key checks', () => {
  let db: TestDatabase;
  let acts: Activities;
  let holder: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.db);
    // Only database steps run here; the provider client is never called.
    acts = createActivities({
      db: db.db,
      providers: sandboxProviders({ url: 'http://127.0.0.1:9', smtpPort: 9 }, 100),
    });
    holder = new Client({ connectionString: db.url });
    await holder.connect();
  }, 120_000);
  afterAll(async () => {
    await holder?.end();
    await db?.drop();
  });

  function run<K extends keyof Activities>(name: K, args: Parameters<Activities[K]>[0]): ReturnType<Activities[K]> {
    const fn = acts[name] as (a: typeof args) => ReturnType<Activities[K]>;
    return new MockActivityEnvironment().run(fn, args) as ReturnType<Activities[K]>;
  }

  async function reservedOrder(): Promise<string> {
    const input = demoOrder('lock');
    const { orderId } = input;
    await run('recordOrder', { order: input, progress: progressAt('received') });
    await run('reserveInventory', { orderId, progress: progressAt('reserve-inventory') });
    await run('createHarvestTask', {
      orderId,
      dueBy: new Date(Date.now() + 86_400_000).toISOString(),
      progress: progressAt('harvest', 'AWAITING_HARVEST'),
    });
    return orderId;
  }

  /** Run `step` while another transaction holds KEY SHARE on both products; fail if the step waits for a lock. */
  async function whileForeignKeyChecksHold<T>(step: () => Promise<T>): Promise<T> {
    await holder.query('BEGIN');
    await holder.query(`SELECT sku FROM products WHERE sku IN ('TOM-HEIRLOOM', 'LET-BUTTER') FOR KEY SHARE`);
    let settled = false;
    const result = step().finally(() => (settled = true));
    try {
      while (!settled) {
        const waiting = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE NOT l.granted AND a.datname = current_database()`,
        );
        if ((waiting[0]?.n ?? 0) > 0) throw new Error('the stock step waits for a lock held by a foreign-key check');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await holder.query('ROLLBACK');
    }
    return result;
  }

  test('recordHarvest consumes the reservation without waiting', async () => {
    const orderId = await reservedOrder();
    const harvested = await whileForeignKeyChecksHold(() =>
      run('recordHarvest', {
        orderId,
        yields: [
          { sku: 'TOM-HEIRLOOM', quantity: 2 },
          { sku: 'LET-BUTTER', quantity: 1 },
        ],
        progress: progressAt('harvest'),
      }),
    );
    expect(harvested).toHaveLength(2);
    const reservations = await db.query<{ status: string }>('SELECT status FROM reservations WHERE order_id = $1', [
      orderId,
    ]);
    expect(reservations.map((r) => r.status)).toEqual(['CONSUMED', 'CONSUMED']);
  });

  test('reserveInventory, releaseReservation and cancelHarvest do not wait either', async () => {
    const input = demoOrder('lock', { lines: [{ sku: 'LET-BUTTER', quantity: 1 }] });
    const { orderId } = input;
    await run('recordOrder', { order: input, progress: progressAt('received') });
    await whileForeignKeyChecksHold(() =>
      run('reserveInventory', { orderId, progress: progressAt('reserve-inventory') }),
    );
    await expect(whileForeignKeyChecksHold(() => run('releaseReservation', { orderId }))).resolves.toEqual({
      released: 1,
    });

    const harvestedId = await reservedOrder();
    await run('recordHarvest', {
      orderId: harvestedId,
      yields: [{ sku: 'TOM-HEIRLOOM', quantity: 2 }],
      progress: progressAt('harvest'),
    });
    await expect(whileForeignKeyChecksHold(() => run('cancelHarvest', { orderId: harvestedId }))).resolves.toEqual({
      outcome: 'returned',
    });
  });
});
